/**
 * The mini-program tracker (sdk/miniprogram) in Node against a stubbed `wx` whose `request` goes over
 * real HTTP to a running engine, and whose storage survives a "restart" of the app.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';

type TrackerModule = typeof import('../../sdk/miniprogram/index.js');
const { Tracker } = createRequire(import.meta.url)('../../sdk/miniprogram/index.js') as TrackerModule;

interface WxRequest {
  url: string;
  method: string;
  header: Record<string, string>;
  data: { batch: Record<string, unknown>[]; sentAt: string };
  success(res: { statusCode: number; header: Record<string, string>; data: unknown }): void;
  fail(err: { errMsg: string }): void;
}

/** A `wx` with storage in a Map (kept across trackers, as on a phone) and requests over real HTTP. */
function stubWx() {
  const storage = new Map<string, unknown>();
  const statuses: number[] = [];
  const stub = {
    offline: false,
    statuses,
    storage,
    getStorageSync: (key: string) => (storage.has(key) ? structuredClone(storage.get(key)) : ''),
    setStorageSync: (key: string, value: unknown) => void storage.set(key, structuredClone(value)),
    getSystemInfoSync: () => ({
      platform: 'ios',
      system: 'iOS 17.2',
      model: 'iPhone 15',
      brand: 'Apple',
      screenWidth: 390,
      screenHeight: 844,
      pixelRatio: 3,
      language: 'zh_CN',
      version: '8.0.47',
      SDKVersion: '3.3.4',
    }),
    request(options: WxRequest) {
      if (stub.offline) {
        statuses.push(0);
        setTimeout(() => options.fail({ errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' }), 5);
        return;
      }
      fetch(options.url, {
        method: options.method,
        headers: options.header,
        body: JSON.stringify(options.data),
      })
        .then(async (res) => {
          statuses.push(res.status);
          options.success({
            statusCode: res.status,
            header: Object.fromEntries(res.headers),
            data: await res.json(),
          });
        })
        .catch((e: unknown) => options.fail({ errMsg: String(e) }));
    },
  };
  (globalThis as unknown as { wx: typeof stub }).wx = stub;
  return stub;
}

let t: TestEngine;
before(async () => {
  t = await startTestEngine();
});
after(() => t.close());

const user = async (engine: TestEngine, id: string) => {
  await engine.settle();
  return engine.request('GET', `/v1/users/${encodeURIComponent(id)}?limit=100`);
};

describe('mini-program tracker', () => {
  it('sends identify (openid, unionid), track and page as one Segment batch', async () => {
    const wx = stubWx();
    const tracker = new Tracker({ writeKey: KEYS.write, apiHost: t.url, appId: 'wx-shop', flushAt: 3 });
    tracker.identify('mp-user', { nickname: '小林' }, { openId: 'o-123', unionId: 'un-456' });
    tracker.page('pages/product/index', { sku: 'p-1' });
    tracker.track('Product Added', { sku: 'p-1', price: 59 });
    await tracker.flush();
    await waitFor(async () => (await user(t, 'mp-user')).status === 200, 10_000, 'the profile');
    assert.deepEqual(wx.statuses, [200], 'one request for the three calls');

    const { profile, events } = (await user(t, 'mp-user')).body;
    assert.deepEqual(profile.channels.wechat.apps['wx-shop'], {
      openId: 'o-123',
      unionId: 'un-456',
      at: profile.channels.wechat.apps['wx-shop'].at,
    });
    assert.equal(profile.traits.nickname, '小林');
    assert.deepEqual(profile.anonymousIds, [tracker.anonymousId]);
    assert.deepEqual(events.map((e: { event: string }) => e.event).sort(), [
      'Product Added',
      'identify',
      'page',
    ]);
    const added = events.find((e: { event: string }) => e.event === 'Product Added');
    assert.equal(added.context.library.name, 'tideline-miniprogram');
    assert.equal(added.context.page.path, 'pages/product/index');
    assert.equal(added.context.os.name, 'ios');
    assert.equal(added.context.wechat.openId, 'o-123');
    assert.equal(tracker.queue.length, 0);
  });

  it('keeps the anonymous id and unsent calls in wx storage across a restart', async () => {
    const wx = stubWx();
    const first = new Tracker({ writeKey: KEYS.write, apiHost: t.url, flushAt: 100, flushInterval: 600_000 });
    first.track('App Opened');
    first.track('Coupon Viewed', { coupon: 'NEW10' });
    assert.deepEqual(wx.statuses, []);
    // The app is killed before it sends; the next launch finds both calls and the same visitor.
    const second = new Tracker({
      writeKey: KEYS.write,
      apiHost: t.url,
      flushAt: 100,
      flushInterval: 600_000,
    });
    assert.equal(second.anonymousId, first.anonymousId);
    assert.equal(second.queue.length, 2);
    await second.flush();
    const { body } = await user(t, second.anonymousId);
    assert.deepEqual(body.events.map((e: { event: string }) => e.event).sort(), [
      'App Opened',
      'Coupon Viewed',
    ]);
  });

  it('sends a page view from each page onShow, keeping the page own handlers', async () => {
    stubWx();
    const registered: Record<string, (this: object, ...args: unknown[]) => unknown>[] = [];
    const host: { Page?: (options: object) => unknown } = {
      Page: (options) => registered.push(options as (typeof registered)[number]),
    };
    const tracker = new Tracker({
      writeKey: KEYS.write,
      apiHost: t.url,
      flushAt: 100,
      flushInterval: 600_000,
    });
    tracker.autoTrackPages(host);
    let shown = 0;
    host.Page?.({
      onShow() {
        shown++;
      },
    });
    // The framework runs the lifecycle on a page instance that knows its route.
    const instance = Object.create(registered[0]) as { route: string };
    instance.route = 'pages/goods/detail';
    registered[0].onLoad.call(instance, { id: 'g-9' });
    registered[0].onShow.call(instance);
    registered[0].onShow.call(instance); // back to the page: a second view
    assert.equal(shown, 2);
    await tracker.flush();
    const { body } = await user(t, tracker.anonymousId);
    assert.equal(body.events.length, 2);
    for (const e of body.events) {
      assert.equal(e.event, 'page');
      assert.equal(e.name, 'pages/goods/detail');
      assert.deepEqual(e.properties, { id: 'g-9' });
    }
  });

  it('retries while offline and after 429 (Retry-After), delivering each call once', async () => {
    const limited = await startTestEngine({ rateLimit: { requests: 1, windowSeconds: 1 } });
    try {
      const wx = stubWx();
      wx.offline = true;
      const tracker = new Tracker({
        writeKey: KEYS.write,
        apiHost: limited.url,
        flushAt: 1,
        flushInterval: 50,
      });
      tracker.identify('mp-retry');
      await waitFor(async () => wx.statuses.length >= 1, 5_000, 'a failed attempt');
      wx.offline = false;
      await waitFor(async () => tracker.queue.length === 0, 30_000, 'the identify to be sent once online');
      // Right after that request, within the same second: over the limit of 1 request a second.
      for (let i = 0; i < 4; i++) tracker.track('Tick', { i });
      await waitFor(async () => tracker.queue.length === 0, 30_000, 'the queue to drain');
      assert.ok(wx.statuses.includes(0), 'an attempt failed offline');
      assert.ok(wx.statuses.includes(429), 'an attempt was rate limited');
      const { body } = await user(limited, 'mp-retry');
      assert.equal(body.profile.eventCount, 5);
    } finally {
      await limited.close();
    }
  });
});
