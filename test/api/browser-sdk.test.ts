/**
 * @segment/analytics-next, bundled from its npm package with esbuild, on a page of another origin
 * in a real browser (Debian's chromium through playwright-core), `apiHost` at Tideline: page views,
 * identify and track in the default mode, and a batch flushed when the page is left.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM, NO_BROWSER } from '../browser.ts';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface StoredView {
  event: string;
  name?: string;
  type: string;
  properties?: Record<string, unknown>;
  context?: {
    page?: { url?: string; path?: string; title?: string; referrer?: string };
    userAgent?: string;
    timezone?: string;
    library?: { name?: string };
  };
}

/** analytics-next as a page script: `window.AnalyticsBrowser`. */
async function bundle(): Promise<string> {
  const result = await build({
    stdin: {
      contents:
        "import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;",
      resolveDir: ROOT,
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    logLevel: 'error',
  });
  return result.outputFiles[0].text;
}

const PAGE = (title: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>` +
  `<script src="/analytics.js"></script></head><body><h1>${title}</h1><a href="/next">next</a></body></html>`;

describe('the Segment browser SDK on another origin', { skip: NO_BROWSER, timeout: 120_000 }, () => {
  let t: TestEngine;
  let site: Server;
  let siteUrl = '';
  let browser: Browser;
  const errors: string[] = [];

  before(async () => {
    const [engine, script] = await Promise.all([startTestEngine(), bundle()]);
    t = engine;
    // The shop: a second loopback origin (another port) serving its pages and the bundled SDK.
    site = createServer((req, res) => {
      if (req.url === '/analytics.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(script);
      } else {
        const title = req.url?.startsWith('/next') ? 'Next page' : 'Product 42';
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE(title));
      }
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((r) => site?.close(r));
    await t?.close();
  });

  /** Loads the SDK on the current page: settings given inline (no CDN), events to Tideline. */
  const load = (page: Page, strategy: 'standard' | 'batching') => {
    const apiHost = `${new URL(t.url).host}/v1`;
    const segmentio = {
      apiKey: KEYS.write,
      apiHost,
      protocol: 'http',
      ...(strategy === 'batching'
        ? { deliveryStrategy: { strategy: 'batching', config: { size: 100, timeout: 600_000 } } }
        : {}),
    };
    // A string, not a function: the test is compiled without the DOM library.
    return page.evaluate(`(async () => {
        const [analytics] = await window.AnalyticsBrowser.load(
          { writeKey: ${JSON.stringify(KEYS.write)}, cdnSettings: { integrations: { 'Segment.io': ${JSON.stringify(segmentio)} } } },
          { integrations: { 'Segment.io': ${JSON.stringify(segmentio)} }, metrics: { host: ${JSON.stringify(apiHost)}, protocol: 'http' } },
        );
        window.analytics = analytics;
        return analytics.user().anonymousId();
      })()`) as Promise<string>;
  };

  const eventsOf = async (id: string): Promise<StoredView[]> => {
    await t.settle();
    const res = await t.request('GET', `/v1/users/${encodeURIComponent(id)}?limit=100`);
    return res.status === 200 ? res.body.events : [];
  };

  it('delivers an anonymous page view, identify and track, each with its page context', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${siteUrl}/product/42?utm_source=newsletter`);
    const anonymousId = await load(page, 'standard');
    assert.ok(anonymousId);
    // Before login: userId null on the wire.
    await page.evaluate(`window.analytics.page('Product', { sku: 'p-42' })`);
    await waitFor(async () => (await eventsOf(anonymousId)).length === 1, 15_000, 'the anonymous page view');
    await page.evaluate(`window.analytics.identify('web-user', { email: 'web@example.com', plan: 'pro' })`);
    await page.evaluate(`window.analytics.track('Product Viewed', { sku: 'p-42', price: 129 })`);
    await waitFor(
      async () => (await eventsOf('web-user')).length === 3,
      15_000,
      'three events on the profile',
    );

    const events = await eventsOf('web-user');
    assert.deepEqual(events.map((e) => e.event).sort(), ['Product Viewed', 'identify', 'page']);
    for (const e of events) {
      assert.equal(e.context?.page?.path, '/product/42', `${e.event}: page context`);
      assert.equal(e.context?.page?.url, `${siteUrl}/product/42?utm_source=newsletter`);
      assert.equal(e.context?.page?.title, 'Product 42');
      assert.match(e.context?.userAgent ?? '', /Chrome/);
      assert.equal(e.context?.timezone, 'Asia/Shanghai');
      assert.equal(e.context?.library?.name, 'analytics.js');
    }
    assert.equal(events.find((e) => e.event === 'page')?.name, 'Product');
    const { profile } = (await t.request('GET', '/v1/users/web-user')).body;
    assert.deepEqual(profile.anonymousIds, [anonymousId]);
    assert.equal(profile.traits.plan, 'pro');
    assert.equal(profile.timezone, 'Asia/Shanghai');
    await context.close();
  });

  it('needs only cdnURL at Tideline: the settings say where to send', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${siteUrl}/product/9`);
    const anonymousId = (await page.evaluate(`(async () => {
        const [analytics] = await window.AnalyticsBrowser.load({ writeKey: ${JSON.stringify(KEYS.write)}, cdnURL: ${JSON.stringify(t.url)} });
        await analytics.page('Product');
        return analytics.user().anonymousId();
      })()`)) as string;
    await waitFor(async () => (await eventsOf(anonymousId)).length === 1, 15_000, 'the page view');
    assert.equal((await eventsOf(anonymousId))[0].context?.page?.path, '/product/9');
    // An unknown write key has no settings.
    const res = await fetch(`${t.url}/v1/projects/not-a-key/settings`);
    assert.equal(res.status, 404);
    await context.close();
  });

  it('in batching mode, flushes the batch when the page is left', async () => {
    const context = await browser.newContext({ timezoneId: 'Europe/Berlin' });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${siteUrl}/product/7`);
    await load(page, 'batching');
    await page.evaluate(`window.analytics.identify('batch-user')`);
    await page.evaluate(`window.analytics.page('Product')`);
    await page.evaluate(`window.analytics.track('Added To Cart', { sku: 'p-7' })`);
    // The batch waits (size 100, 10 minutes): nothing has arrived yet.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await eventsOf('batch-user'), []);
    // Leaving the page flushes it (keepalive fetch to /v1/b).
    await page.goto(`${siteUrl}/next`);
    await waitFor(
      async () => (await eventsOf('batch-user')).length === 3,
      15_000,
      'the batch flushed on unload',
    );
    const events = await eventsOf('batch-user');
    assert.deepEqual(events.map((e) => e.event).sort(), ['Added To Cart', 'identify', 'page']);
    for (const e of events) {
      assert.equal(e.context?.page?.path, '/product/7');
      assert.equal(e.context?.timezone, 'Europe/Berlin');
    }
    const log = await t.request('GET', '/v1/ingest/messages?limit=20');
    assert.ok(log.body.messages.some((m: { path: string }) => m.path === '/v1/b'));
    await context.close();
    assert.deepEqual(errors, []);
  });
});
