/**
 * The segment and template editors in a real browser (Debian's chromium through playwright-core)
 * against `tideline start` with the demo, its SMTP pointed at a real SMTP server and its SMS at the
 * Aliyun fake, as a marketer uses them in English and in Chinese: edit a segment and watch the count
 * change, preview a template for a user, test-send it by email (the received mail checked) and by
 * SMS. Full-page screenshots go to test/artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { KEYS, waitFor } from '../../dev/engine.ts';
import { aliyunSmsEnv, type AliyunSmsFake, startAliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { type FakeSmtp, startSmtpServer } from '../../dev/fakes/smtp.ts';
import { spawnTideline, type TidelineProcess } from '../../dev/processes.ts';
import { CHROMIUM, NO_BROWSER } from './harness.ts';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

interface Preview {
  count: number;
  sample: { userId: string | null; name: string | null; anonymous: boolean }[];
}

const selector = (testid: string) => `[data-testid="${testid}"]`;

const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** The high-value buyers' condition with another threshold (what the test types into the editor). */
const highValue = (amount: number) => ({
  all: [
    {
      fact: 'aggregate',
      params: { event: 'order_paid', fn: 'sum', property: 'amount', within: 'P90D' },
      operator: 'greaterThanInclusive',
      value: amount,
    },
  ],
});

describe('segment and template editors', { skip: NO_BROWSER, timeout: 150_000 }, () => {
  let dataDir = '';
  let engine: TidelineProcess | undefined;
  let browser: Browser | undefined;
  let smtp: FakeSmtp;
  let sms: AliyunSmsFake;
  let url = '';
  /** A demo user with a name. */
  let user = { id: '', name: '' };
  const errors: string[] = [];

  async function api<T>(method: string, path: string, body?: unknown, key: string = KEYS.admin): Promise<T> {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.equal(res.status, 200, `${method} ${path}`);
    return (await res.json()) as T;
  }

  async function pageIn(lang: 'en' | 'zh', key: string = KEYS.admin): Promise<[BrowserContext, Page]> {
    const context = await browser!.newContext({
      viewport: { width: 1440, height: 900 },
      locale: lang === 'zh' ? 'zh-CN' : 'en-US',
      timezoneId: 'Asia/Shanghai',
    });
    // Not in the email preview's sandboxed frame, which has no storage.
    await context.addInitScript(
      `if (window === window.top) {
           localStorage.setItem('tideline.console.readKey', ${JSON.stringify(key)});
           localStorage.setItem('tideline.console.lang', ${JSON.stringify(lang)});
         }`,
    );
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // Expected: a read key's refused preview, and the 400 that places a syntax error.
      if (message.type() === 'error' && !/status of 40[03]/.test(message.text())) errors.push(message.text());
    });
    return [context, page];
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [smtp, sms] = await Promise.all([startSmtpServer({ auth: false }), startAliyunSmsFake()]);
    dataDir = mkdtempSync(join(tmpdir(), 'tideline-editors-'));
    engine = spawnTideline('start', {
      TIDELINE_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      SMTP_IGNORE_TLS: 'true',
      ...aliyunSmsEnv(sms),
    });
    [url, browser] = await Promise.all([
      engine.url,
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      }),
    ]);
    // The demo loads in the background: wait for its shoppers, then pick one with a name.
    const named = { all: [{ fact: 'profile', path: '$.userId', operator: 'notEqual', value: null }] };
    await waitFor(
      async () => {
        const found = await api<Preview>('POST', '/v1/segments/preview', { condition: named, limit: 20 });
        const first = found.sample.find((m) => m.userId && m.name);
        if (first) user = { id: first.userId!, name: first.name! };
        if (!first) await new Promise((r) => setTimeout(r, 500));
        return Boolean(first);
      },
      60_000,
      'a demo user with a name',
    );
  });

  after(async () => {
    await browser?.close();
    await engine?.stop();
    await Promise.all([smtp?.close(), sms?.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  for (const lang of ['en', 'zh'] as const) {
    const words =
      lang === 'en'
        ? { segments: 'Segments', testSend: 'Test send', anonymous: 'Anonymous visitor' }
        : { segments: '分群', testSend: '测试发送', anonymous: '匿名访客' };

    it(`${lang}: edits a segment and watches the count change, then saves and publishes it`, async () => {
      const [context, page] = await pageIn(lang);
      await page.goto(`${url}/console/`);
      await page.locator(selector('segments-link')).click();
      await page.locator(`${selector('segment-list')} h2:text-is("${words.segments}")`).waitFor();
      await page.locator(`${selector('segments-row')}[data-id="high_value_buyers"] a`).click();

      // From what the editor holds (the other language's run published another threshold) to another.
      const editor = page.locator(selector('draft-json'));
      await page.locator(selector('member-count')).waitFor();
      const doc = JSON.parse(await editor.inputValue()) as { condition: ReturnType<typeof highValue> };
      const target = highValue(doc.condition.all[0].value === 3000 ? 1000 : 3000);
      const [start, end] = await Promise.all(
        [doc.condition, target].map((condition) =>
          api<Preview>('POST', '/v1/segments/preview', { condition }),
        ),
      );
      assert.notEqual(start.count, end.count, 'the demo has buyers between the two thresholds');
      const shown = (n: number) =>
        `${selector('member-count')}:text-is("${n.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-US')}")`;
      await page.locator(shown(start.count)).waitFor();
      assert.ok((await page.locator(selector('member-row')).count()) > 0, 'a sample of members');
      assert.ok((await page.locator(selector('member-link')).count()) > 0, 'known users by id');

      await editor.fill(JSON.stringify({ ...doc, condition: target }, null, 2));
      await page.locator(shown(end.count)).waitFor();
      await screenshot(page, `segment-editor-${lang}`);

      // A syntax error is placed at its line, and the count waits for a valid document.
      await editor.fill('{\n  "id": "high_value_buyers",\n  "condition": }');
      const syntax = await page.locator(selector('syntax-error')).textContent();
      assert.match(syntax ?? '', lang === 'en' ? /line 3/ : /第 3 行/);
      await editor.fill(JSON.stringify({ ...doc, condition: target }, null, 2));
      await page.locator(selector('syntax-error')).waitFor({ state: 'detached' });

      await page.locator(selector('save-draft')).click();
      await page.locator(selector('saved')).waitFor();
      await page.locator(selector('publish')).click();
      await page.locator(selector('published')).waitFor();
      const live = await api<{ live: { document: { condition: unknown } } }>(
        'GET',
        '/v1/segments/high_value_buyers',
      );
      assert.deepEqual(live.live.document.condition, target);
      await context.close();
    });

    it(`${lang}: a tag rule shows who it would tag, anonymous visitors said to be anonymous`, async () => {
      const [context, page] = await pageIn(lang);
      await page.goto(`${url}/console/#/tag-rules/visited_${lang}`);
      const editor = page.locator(selector('draft-json'));
      await editor.waitFor();
      // Visitors who viewed a page and never registered: the demo's anonymous visitors.
      const conditions = {
        all: [
          { fact: 'event', path: '$.type', operator: 'equal', value: 'page' },
          { fact: 'profile', path: '$.userId', operator: 'equal', value: null },
        ],
      };
      const expected = await api<Preview>('POST', '/v1/tag-rules/preview', { conditions, limit: 10 });
      assert.ok(expected.count > 0 && expected.sample.every((m) => m.anonymous));
      const doc = JSON.parse(await editor.inputValue()) as Record<string, unknown>;
      await editor.fill(JSON.stringify({ ...doc, conditions }, null, 2));
      await page
        .locator(
          `${selector('member-count')}:text-is("${expected.count.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-US')}")`,
        )
        .waitFor();
      await page
        .locator(`${selector('member-anonymous')}:has-text("${words.anonymous}")`)
        .first()
        .waitFor();
      assert.equal(
        await page.locator(selector('member-link')).count(),
        0,
        'no anonymous visitor shown as a user',
      );
      await context.close();
    });

    it(`${lang}: previews an email for a user and test-sends it to the SMTP server`, async () => {
      const [context, page] = await pageIn(lang);
      await page.goto(`${url}/console/#/templates`);
      await page.locator(`${selector('template-row')}[data-id="welcome_email"] a`).click();
      await page.locator(selector('preview-subject')).waitFor();
      await page.locator(selector('preview-user')).fill(user.id);
      await page
        .locator(`${selector('preview-subject')}:text-is("欢迎来到潮汐优选，${user.name}")`)
        .waitFor();
      await page.locator(selector('measure-subject')).waitFor();
      await page.locator(`${selector('test-send')} h2:text-is("${words.testSend}")`).waitFor();

      const to = `marketer-${lang}@shop.example.com`;
      await page.locator(selector('test-address')).fill(to);
      await page.locator(selector('test-send-button')).click();
      await page.locator(selector('test-sent')).waitFor();
      await waitFor(async () => smtp.inbox.some((m) => m.envelope.to.includes(to)), 10_000, 'the test email');
      const mail = smtp.inbox.find((m) => m.envelope.to.includes(to))!;
      assert.equal(mail.mail.subject, `[Test] 欢迎来到潮汐优选，${user.name}`);
      assert.match(String(mail.mail.html), new RegExp(`${user.name}，欢迎加入潮汐优选`));
      await screenshot(page, `template-email-${lang}`);
      await context.close();
    });

    it(`${lang}: measures an SMS with its signature as you type and test-sends it to the SMS fake`, async () => {
      const [context, page] = await pageIn(lang);
      await page.goto(`${url}/console/#/templates/cart_reminder_sms`);
      await page.locator(selector('preview-user')).fill(user.id);
      await page.locator(`${selector('preview-source')}:has-text("${user.id}")`).waitFor();
      const before = await page.locator(selector('measure-sms')).textContent();

      // A longer text: more characters, measured again without saving anything.
      const editor = page.locator(selector('draft-json'));
      const doc = JSON.parse(await editor.inputValue()) as { content: { text: string } };
      doc.content.text += ' 满199再减30，仅限今日。';
      await editor.fill(JSON.stringify(doc, null, 2));
      await page.locator(`${selector('preview-sms')}:has-text("仅限今日")`).waitFor();
      const afterwards = await page.locator(selector('measure-sms')).textContent();
      assert.notEqual(afterwards, before);
      const shown = await page.locator(selector('preview-sms')).textContent();
      assert.ok(shown?.startsWith('【潮汐优选】'), 'shown with its signature');
      assert.ok(afterwards?.includes(String([...shown!].length)), 'counted with its signature');

      const phone = lang === 'en' ? '13800001111' : '13800002222';
      await page.locator(selector('test-address')).fill(phone);
      await page.locator(selector('test-send-button')).click();
      await page.locator(selector('test-sent')).waitFor();
      const taken = sms.accepted.filter((m) => m.phone === phone);
      assert.equal(taken.length, 1);
      assert.equal(taken[0].templateCode, 'SMS_468120001');
      assert.deepEqual(taken[0].params, { name: user.name });
      assert.ok(taken[0].outId?.startsWith('test-'));
      await screenshot(page, `template-sms-${lang}`);
      await context.close();
    });
  }

  it('fits a 390 px wide phone screen', async () => {
    const [context, page] = await pageIn('zh');
    await page.setViewportSize({ width: 390, height: 844 });
    for (const hash of [
      '#/segments/high_value_buyers',
      '#/templates/welcome_email',
      '#/templates/cart_reminder_sms',
    ]) {
      await page.goto(`${url}/console/${hash}`);
      await page.locator(selector('draft-json')).waitFor();
      await page
        .locator(`${selector('member-count')}, ${selector('measures')} li`)
        .first()
        .waitFor();
      const width = await page.evaluate('document.documentElement.scrollWidth');
      assert.ok(Number(width) <= 390, `${hash} is ${String(width)} px wide`);
    }
    await screenshot(page, 'template-sms-phone');
    await context.close();
  });

  it('stays read-only with a read key', async () => {
    const [context, page] = await pageIn('en', KEYS.read);
    await page.goto(`${url}/console/#/templates/welcome_email`);
    await page.locator(selector('read-only')).waitFor();
    await context.close();
  });

  it('raised no error in the pages', () => {
    assert.deepEqual(errors, []);
  });
});
