/**
 * The journey editor in a real browser (Debian's chromium through playwright-core) against
 * `tideline start` with the demo loaded, as a marketer uses it, in English and in Chinese: a journey
 * from a starter, a typo shown inline at its line with a suggestion, the fix, the map following the
 * draft, a backtest over the last 30 days, publish, pause. Screenshots go to test/artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { KEYS, waitFor } from '../../dev/engine.ts';
import { spawnTideline, type TidelineProcess } from '../../dev/processes.ts';
import { CHROMIUM, NO_BROWSER } from './harness.ts';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

const selector = (testid: string) => `[data-testid="${testid}"]`;

interface Totals {
  entered: number;
  goalReached: number;
  sends: Record<string, number>;
  exits: Record<string, number>;
}

async function api<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${method} ${path}`);
  return (await res.json()) as T;
}

/** The editor's lines as shown (CodeMirror draws one `.cm-line` per line of a short document). */
const lines = (page: Page) => page.locator('.cm-content .cm-line').allInnerTexts();

/** Double-clicks a word in the first line containing `context` and types over it, as a user would. */
async function retype(page: Page, context: string, word: string, replacement: string) {
  const line = page.locator('.cm-content .cm-line', { hasText: context }).first();
  await line.getByText(`"${word}"`, { exact: true }).dblclick();
  await page.keyboard.type(replacement);
}

const HEADING = { en: 'Edit journeys', zh: '编辑旅程' } as const;

describe('journey editor', { skip: NO_BROWSER, timeout: 180_000 }, () => {
  let dataDir = '';
  let engine: TidelineProcess | undefined;
  let browser: Browser | undefined;
  let url = '';
  const errors: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'tideline-editor-'));
    engine = spawnTideline('start', { TIDELINE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    [url, browser] = await Promise.all([
      engine.url,
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      }),
    ]);
    // The demo's history loads in the background: the backtest needs it all.
    await waitFor(
      async () => {
        const res = await fetch(`${url}/v1/reports/journeys`, {
          headers: { authorization: `Bearer ${KEYS.read}` },
        });
        const list = (await res.json()) as { journeys: { entered: number }[] };
        return list.journeys.some((j) => j.entered > 0);
      },
      30_000,
      'the demo loaded',
    );
  });

  after(async () => {
    await browser?.close();
    await engine?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A page in `lang` with `key` stored, as the key form leaves it. */
  async function open(lang: 'en' | 'zh', key: string, hash: string) {
    const context = await browser!.newContext({
      viewport: { width: 1440, height: 1000 },
      locale: lang === 'zh' ? 'zh-CN' : 'en-US',
      timezoneId: 'Asia/Shanghai',
    });
    await context.addInitScript(
      `localStorage.setItem('tideline.console.readKey', ${JSON.stringify(key)});
         localStorage.setItem('tideline.console.lang', ${JSON.stringify(lang)});`,
    );
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${url}/console/${hash}`);
    return page;
  }

  for (const lang of ['en', 'zh'] as const) {
    it(`${lang}: create from a starter, fix a typo, backtest, publish, pause`, async () => {
      const id = `cart_rescue_${lang}`;
      const page = await open(lang, KEYS.admin, '#/edit');
      await page.locator(selector('edit-journeys')).waitFor();
      assert.equal(await page.locator(`${selector('edit-journeys')} h2`).innerText(), HEADING[lang]);

      // A new journey from the cart abandonment starter.
      await page.locator(selector('starter')).selectOption('cart');
      await page.locator(selector('new-id')).fill(id);
      await page.locator(selector('new-name')).fill('Cart rescue');
      await page.locator(selector('create-submit')).click();
      await page.locator('.cm-content').waitFor();
      const map = page.locator(`${selector('draft-map')}[data-ready]`);
      await map.waitFor();
      assert.equal(await map.getAttribute('data-steps'), 'wait_for_payment reminder_sms reminded paid');
      assert.match((await map.getAttribute('data-edges')) ?? '', /wait_for_payment>paid/);

      // A typo in a step link: the error at its line, naming the step, with the nearest step id.
      await retype(page, '"onEvent"', 'paid', 'payd');
      const fault = page.locator(selector('editor-fault'), { hasText: "did you mean 'paid'" });
      await fault.waitFor();
      const typoLine = (await lines(page)).findIndex((l) => l.includes('"onEvent"')) + 1;
      assert.equal(await fault.getAttribute('data-line'), String(typoLine));
      assert.match(await fault.innerText(), /step 'wait_for_payment'/);
      const marked = page.locator('.cm-content .cm-line', { has: page.locator('.cm-lintRange-error') });
      assert.equal(await marked.count(), 1);
      assert.match(await marked.innerText(), /"onEvent": "payd"/);
      await page.locator(`${selector('draft-map')}:not([data-edges*="wait_for_payment>paid"])`).waitFor();
      await page.screenshot({ path: join(ARTIFACTS, `editor-typo-${lang}.png`), fullPage: true });

      // Fixed: no fault, and the map has its link again.
      await retype(page, '"onEvent"', 'payd', 'paid');
      await page.locator(`${selector('draft-map')}[data-edges*="wait_for_payment>paid"]`).waitFor();
      await page.locator(selector('editor-valid')).waitFor();
      assert.equal(await page.locator(selector('editor-fault')).count(), 0);
      assert.equal(await page.locator('.cm-lintRange-error').count(), 0);

      // Completion from the JSON Schema, where a new property of the send step goes.
      await page.locator('.cm-content .cm-line', { hasText: '"template": "cart_reminder_sms"' }).click();
      await page.keyboard.press('End');
      await page.keyboard.type(',\n"');
      await page.keyboard.press('Control+Space');
      const options = page.locator('.cm-tooltip-autocomplete li');
      await options.first().waitFor();
      // The send step's properties it does not have yet, each with its type.
      assert.deepEqual(await options.allInnerTexts(), ['nextstring', 'fallbackobject', 'variantsarray']);
      await options.first().click();
      await page.keyboard.type('reminded');
      await page.locator('.cm-content .cm-line', { hasText: '"next": "reminded"' }).waitFor();
      await page.locator(selector('editor-valid')).waitFor();

      // A click on a step of the map shows its JSON.
      const at = await page.evaluate<[number, number]>(`(() => {
          const el = document.querySelector('[data-testid="draft-map"]');
          const chart = window.echarts.getInstanceByDom(el);
          const node = chart.getOption().series[0].data.find((n) => n.id === 'reminder_sms');
          return chart.convertToPixel({ seriesIndex: 0 }, [node.x, node.y]);
        })()`);
      await map.click({ position: { x: at[0], y: at[1] } });
      await page.locator('.cm-activeLine', { hasText: '"id": "reminder_sms"' }).waitFor();

      // The backtest over the demo's last 30 days, as the API answers it for the same period.
      assert.equal(await page.locator(selector('backtest-period')).inputValue(), 'P30D');
      await page.locator(selector('backtest-run')).click();
      const result = page.locator(selector('backtest-result'));
      await result.waitFor();
      const entered = Number(await page.locator(selector('backtest-entered')).getAttribute('data-value'));
      assert.ok(entered > 0, 'some users would have entered');
      const shownSends = await page
        .locator(`${selector('backtest-sends')} ${selector('count-row')}`)
        .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-id'), r.lastElementChild?.textContent]));
      await page.screenshot({ path: join(ARTIFACTS, `editor-backtest-${lang}.png`), fullPage: true });

      // Published, then paused from the list.
      await page.locator(selector('publish')).click();
      await page.locator(selector('confirm-yes')).click();
      await page.locator(`${selector('editor-status')}.ok`).waitFor();
      const published = await api<{ live: { version: number; document: object } }>(
        url,
        'GET',
        `/v1/journeys/${id}`,
      );
      assert.equal(published.live.version, 1);
      const backtest = await api<{ journeys: Record<string, Totals> }>(url, 'POST', '/v1/journeys/backtest', {
        journey: published.live.document,
        since: await result.getAttribute('data-since'),
        until: await result.getAttribute('data-until'),
      });
      const totals = backtest.journeys[id];
      assert.equal(entered, totals.entered);
      assert.equal(
        Number(await page.locator(selector('backtest-converted')).getAttribute('data-value')),
        totals.goalReached,
      );
      assert.deepEqual(
        shownSends.map(([key]) => key),
        Object.keys(totals.sends).sort(),
      );

      // The next draft against the published version: the changed reason is marked.
      await retype(page, '"reason": "reminded"', 'reminded', 'sms sent');
      await page.locator(selector('diff')).click();
      const changed = page.locator(`${selector('diff-view')} .cm-changedLine`);
      await changed.first().waitFor();
      assert.deepEqual(
        (await changed.allInnerTexts()).map((l) => l.trim()),
        ['"reason": "reminded"', '"reason": "sms sent"'],
      );
      await page.screenshot({ path: join(ARTIFACTS, `editor-diff-${lang}.png`), fullPage: true });

      await page.locator(selector('edit-list-link')).click();
      const row = page.locator(`${selector('edit-journey-row')}[data-id="${id}"]`);
      await row.locator(selector('journey-state')).waitFor();
      assert.equal(await row.locator(selector('journey-state')).getAttribute('data-state'), 'running');
      await row.locator(selector('action-pause')).click();
      await page.locator(selector('confirm-yes')).click();
      await row.locator(`${selector('journey-state')}[data-state="paused"]`).waitFor();
      const list = await api<{ journeys: { id: string; state: string }[] }>(
        url,
        'GET',
        '/v1/reports/journeys',
      );
      assert.equal(list.journeys.find((j) => j.id === id)?.state, 'paused');
      await page.screenshot({ path: join(ARTIFACTS, `editor-list-${lang}.png`), fullPage: true });
      await page.context().close();
    });
  }

  it('stays read-only with the read key', async () => {
    const page = await open('en', KEYS.read, '#/edit');
    await page.locator(selector('read-only')).waitFor();
    assert.equal(await page.locator(selector('action-pause')).count(), 0);
    assert.equal(await page.locator(selector('create-journey')).count(), 0);
    await page.locator(selector('edit-journey-link')).first().click();
    await page.locator('.cm-content').waitFor();
    assert.equal(await page.locator('.cm-content').getAttribute('contenteditable'), 'false');
    assert.equal(await page.locator(selector('publish')).count(), 0);
    // On a phone: the page does not scroll sideways.
    for (const hash of ['#/edit', '#/edit/cart_rescue_en']) {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${url}/console/${hash}`);
      await page.locator(hash === '#/edit' ? selector('edit-journeys') : '.cm-content').waitFor();
      assert.equal(await page.evaluate('document.documentElement.scrollWidth'), 390, `${hash} fits a phone`);
    }
    await page.context().close();
    assert.deepEqual(errors, []);
  });
});
