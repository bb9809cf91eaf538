import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

const T = '2026-11-20T08:00:00.000Z';

describe('Segment ingestion API', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine();
  });
  after(() => t.close());
  let n = 0;
  let user = '';
  beforeEach(() => {
    user = `user-${++n}`;
  });

  const profileCount = () => t.engine.store.countProfiles();

  it('accepts a track call and shows it on the profile', async () => {
    const res = await t.request('POST', '/v1/track', {
      body: {
        userId: user,
        event: 'cart_add',
        properties: { sku: 'A1', price: 99 },
        timestamp: T,
        messageId: `${user}-1`,
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { success: true });
    await t.settle();
    const got = await t.request('GET', `/v1/users/${user}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.profile.userId, user);
    assert.equal(got.body.profile.lastSeenAt, T);
    assert.equal(got.body.events.length, 1);
    assert.equal(got.body.events[0].event, 'cart_add');
    assert.deepEqual(got.body.events[0].properties, { sku: 'A1', price: 99 });
  });

  it('a repeated messageId changes nothing, even with different content', async () => {
    const body = { userId: user, traits: { city: 'Shanghai' }, timestamp: T, messageId: `${user}-dup` };
    assert.equal((await t.request('POST', '/v1/identify', { body })).status, 200);
    await t.settle();
    const first = await t.request('GET', `/v1/users/${user}`);
    for (const again of [body, { ...body, traits: { city: 'Beijing' }, timestamp: '2026-11-21T00:00:00Z' }]) {
      assert.equal((await t.request('POST', '/v1/identify', { body: again })).status, 200);
      assert.equal(
        (await t.request('POST', '/v1/batch', { body: { batch: [{ ...again, type: 'identify' }] } })).status,
        200,
      );
    }
    await t.settle();
    const second = await t.request('GET', `/v1/users/${user}`);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.body.profile.traits.city, 'Shanghai');
    assert.equal(second.body.profile.eventCount, 1);
  });

  it('without a messageId, the same call sent twice is applied once', async () => {
    const body = {
      userId: user,
      event: 'order_paid',
      properties: { orderId: 'o1', amount: 10 },
      timestamp: T,
    };
    await t.request('POST', '/v1/track', { body });
    await t.request('POST', '/v1/track', { body });
    await t.settle();
    const got = await t.request('GET', `/v1/users/${user}`);
    assert.equal(got.body.events.length, 1);
  });

  it('an identify placed after a track in one batch applies first', async () => {
    const anon = `anon-${user}`;
    const res = await t.request('POST', '/v1/batch', {
      body: {
        batch: [
          { type: 'track', anonymousId: anon, event: 'cart_add', timestamp: T, messageId: `${user}-t` },
          {
            type: 'identify',
            userId: user,
            anonymousId: anon,
            traits: { city: 'Hangzhou' },
            timestamp: T,
            messageId: `${user}-i`,
          },
        ],
      },
    });
    assert.equal(res.status, 200);
    await t.settle();
    const got = await t.request('GET', `/v1/users/${user}`);
    assert.deepEqual(got.body.events.map((e: { type: string }) => e.type).sort(), ['identify', 'track']);
    assert.deepEqual(got.body.profile.anonymousIds, [anon]);
    // The track was routed to the identified user: no anonymous profile was ever written.
    assert.equal((await t.engine.store.getProfiles([`a:${anon}`])).size, 0);
  });

  it('rejects malformed bodies with 400 and a JSON pointer to each fault, changing nothing', async () => {
    const before = await profileCount();
    const cases: [string, unknown, string[]][] = [
      ['/v1/track', { userId: user, timestamp: T }, ['/event']],
      ['/v1/track', { event: 'x' }, ['/userId']],
      ['/v1/track', { userId: user, event: 'x', timestamp: 'yesterday' }, ['/timestamp']],
      ['/v1/identify', { userId: user, traits: 'tall' }, ['/traits']],
      ['/v1/track', { userId: user, event: 'x', timestamp: '2099-01-01T00:00:00Z' }, ['/timestamp']],
      ['/v1/identify', { userId: user, traits: { timezone: 'Mars/Olympus' } }, ['/traits/timezone']],
      ['/v1/alias', { userId: user }, ['/previousId']],
      // Strict mode: one invalid message refuses the whole batch (without it the valid ones are kept).
      [
        '/v1/batch?strict=true',
        {
          batch: [
            { type: 'track', userId: user, event: 'ok' },
            { type: 'track', userId: user },
            { type: 'group', userId: user },
          ],
        },
        ['/batch/1/event', '/batch/2/groupId'],
      ],
      ['/v1/batch', { batch: [] }, ['/batch']],
      ['/v1/batch', { events: [] }, ['/batch']],
    ];
    for (const [path, body, pointers] of cases) {
      const res = await t.request('POST', path, { body });
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
      assert.equal(res.body.error, 'invalid_request');
      assert.ok(res.body.message);
      assert.deepEqual(
        res.body.errors.map((e: { pointer: string }) => e.pointer),
        pointers,
        `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body.errors)}`,
      );
    }
    const broken = await t.request('POST', '/v1/track', { rawBody: '{"userId": "a", "event":' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.errors[0].pointer, '');
    await t.settle();
    assert.equal(await profileCount(), before);
    assert.equal((await t.request('GET', `/v1/users/${user}`)).status, 404);
  });

  it('answers 413 for a message over 32 KB or a batch over 500 KB, changing nothing', async () => {
    const before = await profileCount();
    const big = 'x'.repeat(33 * 1024);
    const single = await t.request('POST', '/v1/track', {
      body: { userId: user, event: 'e', properties: { big } },
    });
    assert.equal(single.status, 413);
    const inBatch = await t.request('POST', '/v1/batch?strict=true', {
      body: {
        batch: [
          { type: 'track', userId: user, event: 'ok' },
          { type: 'track', userId: user, event: 'e', properties: { big } },
        ],
      },
    });
    assert.equal(inBatch.status, 413);
    assert.equal(inBatch.body.errors[0].pointer, '/batch/1');
    const batch = Array.from({ length: 30 }, () => ({
      type: 'track',
      userId: user,
      event: 'e',
      properties: { p: 'y'.repeat(20 * 1024) },
    }));
    assert.equal((await t.request('POST', '/v1/batch', { body: { batch } })).status, 413);
    await t.settle();
    assert.equal(await profileCount(), before);
  });

  it('answers 401 without a valid key and 403 for a key without the scope, changing nothing', async () => {
    const before = await profileCount();
    const body = { userId: user, event: 'e' };
    const none = await t.request('POST', '/v1/track', { body, key: null });
    assert.equal(none.status, 401);
    assert.match(none.body.message, /API key/);
    assert.equal((await t.request('POST', '/v1/track', { body, key: 'wrong-key' })).status, 401);
    assert.equal((await t.request('POST', '/v1/track', { body, key: KEYS.read })).status, 403);
    assert.equal((await t.request('GET', `/v1/users/${user}`, { key: KEYS.write })).status, 403);
    assert.equal((await t.request('DELETE', `/v1/users/${user}`, { key: KEYS.read })).status, 403);
    await t.settle();
    assert.equal(await profileCount(), before);
  });

  it('accepts the write key in the body as Segment does', async () => {
    const res = await t.request('POST', '/v1/track', {
      key: null,
      body: { userId: user, event: 'e', writeKey: KEYS.write },
    });
    assert.equal(res.status, 200);
  });

  it('merges traits, removes a trait sent as null, and keeps addresses and consent per channel', async () => {
    await t.request('POST', '/v1/identify', {
      body: {
        userId: user,
        traits: {
          email: 'li@example.com',
          phone: '+8613800000000',
          plan: 'pro',
          consent: { sms: true, email: false },
        },
        context: {
          timezone: 'Asia/Shanghai',
          wechat: { appId: 'wx_demo', openId: 'o-1' },
          device: { type: 'android', token: 'tok' },
        },
        timestamp: T,
      },
    });
    await t.request('POST', '/v1/identify', {
      body: { userId: user, traits: { plan: null }, timestamp: '2026-11-20T09:00:00Z' },
    });
    await t.settle();
    const { profile } = (await t.request('GET', `/v1/users/${user}`)).body;
    assert.deepEqual(profile.traits, { email: 'li@example.com', phone: '+8613800000000' });
    assert.equal(profile.timezone, 'Asia/Shanghai');
    assert.deepEqual(profile.channels.sms, { address: '+8613800000000', consent: { granted: true, at: T } });
    assert.deepEqual(profile.channels.email.consent, { granted: false, at: T });
    assert.deepEqual(profile.channels.wechat.apps.wx_demo.openId, 'o-1');
    assert.equal(profile.channels.push.tokens[0].provider, 'fcm');
    assert.ok(profile.bucket >= 0 && profile.bucket < 10_000);
  });

  it('links an anonymous visitor to the user on identify and on alias, keeping its history', async () => {
    const anon = `anon2-${user}`;
    await t.request('POST', '/v1/page', { body: { anonymousId: anon, name: 'home', timestamp: T } });
    await t.settle();
    assert.equal((await t.request('GET', `/v1/users/${anon}`)).body.profile.userId, null);
    await t.request('POST', '/v1/identify', {
      body: { userId: user, anonymousId: anon, traits: { city: 'Chengdu' } },
    });
    await t.settle();
    const got = (await t.request('GET', `/v1/users/${user}`)).body;
    assert.equal(got.events.length, 2);
    assert.deepEqual(got.profile.anonymousIds, [anon]);
    // The anonymous id now leads to the user.
    assert.equal((await t.request('GET', `/v1/users/${anon}`)).body.profile.userId, user);
    // Later anonymous events land on the user.
    await t.request('POST', '/v1/track', { body: { anonymousId: anon, event: 'product_viewed' } });
    const old = `old-${user}`;
    await t.request('POST', '/v1/track', { body: { anonymousId: old, event: 'qr_scan' } });
    await t.settle();
    await t.request('POST', '/v1/alias', { body: { userId: user, previousId: old } });
    await t.settle();
    const merged = (await t.request('GET', `/v1/users/${user}`)).body;
    assert.equal(merged.events.length, 5);
    assert.deepEqual(merged.profile.anonymousIds, [anon, old].sort());
  });

  it('erases a user, their history and their anonymous ids', async () => {
    const anon = `anon3-${user}`;
    await t.request('POST', '/v1/identify', {
      body: { userId: user, anonymousId: anon, traits: { email: 'x@example.com' } },
    });
    await t.settle();
    const del = await t.request('DELETE', `/v1/users/${user}`);
    assert.equal(del.status, 200);
    assert.equal((await t.request('GET', `/v1/users/${user}`)).status, 404);
    assert.equal((await t.request('GET', `/v1/users/${anon}`)).status, 404);
    assert.equal((await t.request('DELETE', `/v1/users/${user}`)).status, 404);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await t.request('GET', '/v1/nothing');
    assert.equal(res.status, 404);
    assert.equal(res.body.error, 'not_found');
  });
});
