/**
 * The console's ingestion debugger in a real browser (Debian's chromium through playwright-core):
 * the messages already received, then a rejected one appearing live with its reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM, NO_BROWSER } from '../browser.ts';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

const selector = (testid: string) => `[data-testid="${testid}"]`;

describe('ingestion debugger page', { skip: NO_BROWSER, timeout: 90_000 }, () => {
  let t: TestEngine;
  let browser: Browser;

  before(async () => {
    [t, browser] = await Promise.all([
      startTestEngine(),
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      }),
    ]);
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  it('lists received messages and shows a rejected one live, with its pointer', async () => {
    await t.request('POST', '/v1/track', { body: { userId: 'dbg-user', event: 'first_seen' } });
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${t.url}/console/`);
    await page.locator(selector('key-input')).fill(KEYS.read);
    await page.locator(selector('key-submit')).click();
    await page.locator(selector('ingest-link')).click();
    const rows = page.locator(selector('ingest-row'));
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().innerText(), /first_seen/);
    await page.locator(`${selector('ingest-live')}:not([hidden])`).waitFor();

    // A batch with one bad message arrives while the page is open.
    const res = await t.request('POST', '/v1/batch', {
      body: {
        batch: [
          { type: 'track', userId: 'dbg-user', event: 'ok_event' },
          { type: 'track', userId: 'dbg-user', properties: { sku: 'p-1' } },
        ],
      },
    });
    assert.equal(res.status, 200);
    const rejected = page.locator(`${selector('ingest-row')}[data-status="rejected"]`);
    await rejected.first().waitFor();
    const text = await rejected.first().innerText();
    assert.match(text, /\/batch\/1\/event/);
    assert.match(text, /is required for track calls/);
    await page.locator(`${selector('ingest-row')}:has-text("ok_event")`).waitFor();
    assert.equal(await rows.count(), 3);

    // Only the rejected ones.
    await page.locator(selector('ingest-filter-rejected')).click();
    await page.locator(`${selector('ingest-filter-rejected')}[aria-pressed="true"]`).waitFor();
    await page.waitForFunction(
      `document.querySelectorAll('[data-testid="ingest-row"]').length === 1`,
      undefined,
      { timeout: 5000 },
    );
    assert.equal(await page.locator(`${selector('ingest-row')}[data-status="rejected"]`).count(), 1);
    assert.deepEqual(errors, []);
  });
});
