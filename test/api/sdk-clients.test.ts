import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Redis } from 'ioredis';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';
import { REDIS_URL, removeKeys, uniquePrefix } from '../../dev/processes.ts';

const SKEWED_CLIENT = fileURLToPath(new URL('../helpers/skewed-client.ts', import.meta.url));
const HOUR = 3_600_000;

let t: TestEngine;
before(async () => {
  t = await startTestEngine();
});
after(() => t.close());

interface StoredView {
  event: string;
  name?: string;
  groupId?: string;
  timestamp: string;
  originalTimestamp?: string;
  receivedAt: string;
  properties?: Record<string, unknown>;
}

async function eventsOf(userId: string): Promise<StoredView[]> {
  await t.settle();
  const res = await t.request('GET', `/v1/users/${encodeURIComponent(userId)}?limit=200`);
  assert.equal(res.status, 200, `${userId}: ${JSON.stringify(res.body)}`);
  return res.body.events;
}

/** Runs a real SDK in a child process whose clock is off by `offsetMs`. */
async function skewedClient(sdk: 'segment' | 'rudder', offsetMs: number, calls: [string, object][]) {
  await promisify(execFile)(process.execPath, ['--import', 'tsx', SKEWED_CLIENT], {
    env: {
      ...process.env,
      SDK: sdk,
      TIDELINE_URL: t.url,
      WRITE_KEY: KEYS.write,
      CLOCK_OFFSET_MS: String(offsetMs),
      CALLS: JSON.stringify(calls),
    },
    timeout: 60_000,
  });
}

describe('a flush mixing group, null fields and several users loses nothing valid', () => {
  it('@segment/analytics-node', async () => {
    const analytics = new Analytics({
      writeKey: KEYS.write,
      host: t.url,
      flushAt: 50,
      flushInterval: 10_000,
    });
    const failures: unknown[] = [];
    analytics.on('error', (e) => failures.push(e));
    const nulls = { properties: null, context: null, integrations: null } as unknown as object;
    analytics.identify({ userId: 'seg-a', traits: { plan: 'pro' } });
    analytics.group({ userId: 'seg-a', groupId: 'acme', traits: { industry: 'retail' } });
    analytics.track({ userId: 'seg-b', event: 'cart_viewed', ...nulls });
    analytics.page({ anonymousId: 'seg-anon', name: null, properties: null } as unknown as {
      anonymousId: string;
    });
    analytics.identify({ userId: 'seg-c', anonymousId: 'seg-anon', traits: null } as unknown as {
      userId: string;
    });
    analytics.track({ userId: 'seg-b', event: 'checkout', properties: { total: 12 } });
    await analytics.closeAndFlush();
    assert.deepEqual(failures, []);

    const a = await eventsOf('seg-a');
    assert.deepEqual(a.map((e) => e.event).sort(), ['group', 'identify']);
    const profileA = (await t.request('GET', '/v1/users/seg-a')).body.profile;
    assert.deepEqual(profileA.groups.acme.traits, { industry: 'retail' });
    assert.deepEqual((await eventsOf('seg-b')).map((e) => e.event).sort(), ['cart_viewed', 'checkout']);
    // The anonymous page view was folded into seg-c when it identified.
    assert.deepEqual((await eventsOf('seg-c')).map((e) => e.event).sort(), ['identify', 'page']);
  });

  it('@rudderstack/rudder-sdk-node (gzip bodies)', async () => {
    const client = new RudderAnalytics(KEYS.write, {
      dataPlaneUrl: t.url,
      flushAt: 50,
      flushInterval: 10_000,
    });
    client.identify({ userId: 'rs-a', traits: { plan: 'pro' } });
    client.group({ userId: 'rs-a', groupId: 'globex', traits: { employees: 40 } });
    client.track({ userId: 'rs-b', event: 'cart_viewed', properties: null as unknown as undefined });
    client.page({ anonymousId: 'rs-anon', name: 'Home', properties: null as unknown as undefined });
    client.screen({ userId: 'rs-b', name: 'Cart', context: null as unknown as undefined });
    client.alias({ userId: 'rs-c', previousId: 'rs-anon' });
    await client.flush();

    const profileA = (await t.request('GET', '/v1/users/rs-a')).body.profile;
    assert.deepEqual(profileA?.groups?.globex?.traits, { employees: 40 });
    assert.deepEqual((await eventsOf('rs-a')).map((e) => e.event).sort(), ['group', 'identify']);
    assert.deepEqual((await eventsOf('rs-b')).map((e) => e.event).sort(), ['cart_viewed', 'screen']);
    assert.deepEqual((await eventsOf('rs-c')).map((e) => e.event).sort(), ['alias', 'page']);
  });
});

describe('a wrong device clock is corrected by sentAt', () => {
  for (const [sdk, offset, label] of [
    ['segment', 2 * HOUR, '2 h fast'],
    ['segment', -3 * 24 * HOUR, '3 days slow'],
    ['rudder', 2 * HOUR, '2 h fast'],
    ['rudder', -3 * 24 * HOUR, '3 days slow'],
  ] as const) {
    it(`${sdk}: a clock ${label}`, async () => {
      const userId = `skew-${sdk}-${offset}`;
      const before = Date.now();
      await skewedClient(sdk, offset, [
        ['identify', { userId, traits: { city: 'Hangzhou' } }],
        ['track', { userId, event: 'order_completed', properties: { total: 99 } }],
      ]);
      const afterRun = Date.now();
      const events = await eventsOf(userId);
      assert.equal(events.length, 2);
      for (const e of events) {
        const at = Date.parse(e.timestamp);
        assert.ok(
          at >= before - 1000 && at <= afterRun + 1000,
          `${e.event} at ${e.timestamp}, not device time`,
        );
        const original = Date.parse(e.originalTimestamp as string);
        assert.ok(
          Math.abs(original - offset - at) < 10_000,
          `original ${e.originalTimestamp} is the device's`,
        );
        assert.equal((e as { late?: boolean }).late, undefined, 'on time: it drives decisions');
      }
      const profile = (await t.request('GET', `/v1/users/${userId}`)).body.profile;
      assert.ok(Math.abs(Date.parse(profile.lastSeenAt) - afterRun) < 60_000);
    });
  }
});

it("RudderStack's originalTimestamp is the event time, not the arrival", async () => {
  const client = new RudderAnalytics(KEYS.write, { dataPlaneUrl: t.url, flushAt: 50, flushInterval: 60_000 });
  // The SDK sends its very first call at once; the next ones wait in its queue.
  client.identify({ userId: 'rs-queued' });
  await client.flush();
  const calledAt = Date.now();
  client.track({ userId: 'rs-queued', event: 'offline_action' });
  // The call waits in the SDK's queue (an app offline for a while) before it is sent.
  await new Promise((r) => setTimeout(r, 1500));
  await client.flush();
  const e = (await eventsOf('rs-queued')).find((x) => x.event === 'offline_action') as StoredView;
  const at = Date.parse(e.timestamp);
  assert.ok(Math.abs(at - calledAt) < 200, `event time ${e.timestamp} is the call's`);
  assert.ok(Date.parse(e.receivedAt) - at >= 1400, 'received later than it happened');
});

describe('per-key rate limits', () => {
  it('answers 429 with Retry-After, and @segment/analytics-node delivers everything once the limit allows', async () => {
    const limited = await startTestEngine({ rateLimit: { requests: 3, windowSeconds: 1 } });
    try {
      const post = () =>
        fetch(`${limited.url}/v1/t`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${KEYS.write}:`).toString('base64')}` },
          body: JSON.stringify({ userId: 'burst', event: 'e' }),
        });
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res = await post();
        statuses.push(res.status);
        if (res.status === 429) {
          retryAfter = res.headers.get('retry-after');
          assert.equal(((await res.json()) as { error: string }).error, 'rate_limited');
        } else await res.text();
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal(retryAfter, '1');

      // 12 single-message flushes against 3 requests a second: the SDK waits and retries.
      const analytics = new Analytics({
        writeKey: KEYS.write,
        host: limited.url,
        flushAt: 1,
        flushInterval: 10,
      });
      const failures: unknown[] = [];
      analytics.on('error', (e) => failures.push(e));
      for (let i = 0; i < 12; i++)
        analytics.track({ userId: 'limited', event: 'tick', messageId: `tick-${i}` });
      await analytics.closeAndFlush({ timeout: 30_000 });
      assert.deepEqual(failures, []);
      await limited.settle();
      const res = await limited.request('GET', '/v1/users/limited?limit=50');
      assert.equal(res.body.events.length, 12);
      // Rate-limited requests are in the debugger with their status.
      const log = await limited.request('GET', '/v1/ingest/messages?status=rejected&limit=100');
      assert.ok(log.body.messages.some((m: { httpStatus?: number }) => m.httpStatus === 429));
    } finally {
      await limited.close();
    }
  });

  it('counts in Redis when processes share one', async () => {
    const prefix = uniquePrefix('ratelimit');
    const shared = await startTestEngine({
      store: 'redis',
      queue: 'bullmq',
      redisUrl: REDIS_URL,
      prefix,
      rateLimit: { requests: 2, windowSeconds: 5 },
    });
    const redis = new Redis(REDIS_URL);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await shared.request('POST', '/v1/track', { body: { userId: 'r', event: 'e' } });
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      const keys = await redis.keys(`${prefix}:ratelimit*`);
      assert.equal(keys.length, 1);
      // Counted by the key's digest: the key itself is not in Redis.
      assert.ok(!keys[0].includes(KEYS.write));
    } finally {
      await shared.close();
      await removeKeys(prefix, redis);
      await redis.quit();
    }
  });
});
