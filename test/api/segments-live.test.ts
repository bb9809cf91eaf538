import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_WORKSPACE } from '../../cli/config.ts';
import { startTestEngine, type TestEngine } from '../../dev/engine.ts';

const iso = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString();

describe('segments kept current as events arrive (demo workspace)', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ workspaceDir: DEMO_WORKSPACE });
  });
  after(() => t.close());

  const order = (userId: string, n: number, amount: number, daysAgo: number) => ({
    type: 'track',
    userId,
    event: 'order_paid',
    messageId: `${userId}-order-${n}`,
    properties: { orderId: `${userId}-o${n}`, amount, currency: 'CNY' },
    timestamp: iso(daysAgo),
  });

  it('enters a spend segment once its threshold is crossed, with its tag and one segment_entered', async () => {
    const batch = [order('seg-1', 1, 600, 20), order('seg-1', 2, 300, 10)];
    assert.equal((await t.request('POST', '/v1/batch', { body: { batch } })).status, 200);
    await t.settle();
    let user = (await t.request('GET', '/v1/users/seg-1?limit=100&include=internal')).body;
    assert.deepEqual(user.profile.segments, []);

    const third = { batch: [order('seg-1', 3, 150, 1)] };
    await t.request('POST', '/v1/batch', { body: third });
    // The same batch again (a client retry) must not raise anything twice.
    await t.request('POST', '/v1/batch', { body: third });
    await t.settle();
    user = (await t.request('GET', '/v1/users/seg-1?limit=100&include=internal')).body;
    assert.deepEqual(user.profile.segments, ['high_value_buyers']);
    assert.deepEqual(user.profile.tags, ['high_value']);
    const entered = user.events.filter((e: { event: string }) => e.event === 'segment_entered');
    assert.equal(entered.length, 1);
    assert.equal(entered[0].type, 'internal');
    const { causedAt, ...properties } = entered[0].properties;
    assert.deepEqual(properties, { segmentId: 'high_value_buyers', version: 1, cause: 'seg-1-order-3' });
    const cause = user.events.find((e: { messageId: string }) => e.messageId === 'seg-1-order-3');
    assert.equal(causedAt, cause.timestamp, 'the event that caused the entry, by its time');
    assert.equal(user.profile.eventCount, 3, 'internal events are not counted as calls');
  });

  it('counts aggregates with a where filter and reads event times (QR poster followers)', async () => {
    const batch = [
      {
        type: 'track',
        userId: 'seg-2',
        event: 'qr_scan',
        properties: { scene: 'store_sh_01' },
        timestamp: iso(3),
      },
      {
        type: 'track',
        userId: 'seg-2',
        event: 'wechat_follow',
        properties: { appId: 'wx_official_demo' },
        timestamp: iso(2),
      },
    ];
    await t.request('POST', '/v1/batch', { body: { batch } });
    await t.settle();
    // A new user (no order yet) is in the demo's new_users segment.
    assert.deepEqual((await t.request('GET', '/v1/users/seg-2')).body.profile.segments, ['new_users']);
    await t.request('POST', '/v1/track', {
      body: { userId: 'seg-2', event: 'qr_scan', properties: { scene: 'poster_1111' }, timestamp: iso(1) },
    });
    await t.settle();
    assert.deepEqual((await t.request('GET', '/v1/users/seg-2')).body.profile.segments, [
      'new_users',
      'poster_followers',
    ]);
  });

  it("carries an anonymous visitor's behaviour into the user's segments on identify", async () => {
    const views = [1, 2, 3].map((n) => ({
      type: 'track',
      anonymousId: 'seg-anon-3',
      event: 'product_viewed',
      properties: { productId: 'p1' }, // browsed_not_bought counts views of one product
      timestamp: new Date(Date.now() - n * 60_000).toISOString(),
    }));
    await t.request('POST', '/v1/batch', { body: { batch: views } });
    await t.settle();
    assert.deepEqual((await t.request('GET', '/v1/users/seg-anon-3')).body.profile.segments, [
      'browsed_not_bought',
      'new_users',
    ]);
    await t.request('POST', '/v1/identify', {
      body: { userId: 'seg-3', anonymousId: 'seg-anon-3', traits: { city: 'Chengdu' } },
    });
    await t.settle();
    const user = (await t.request('GET', '/v1/users/seg-3?limit=100')).body;
    assert.deepEqual(user.profile.segments, ['browsed_not_bought', 'new_users']);
    assert.equal(user.profile.lifecycle.state, 'new');
  });

  it('tag rules add and remove sticky tags as events arrive, each change once', async () => {
    const track = (event: string, n: number, properties: object = {}) => ({
      type: 'track',
      userId: 'tag-1',
      event,
      messageId: `tag-1-${event}-${n}`,
      properties,
      timestamp: iso(5 - n * 0.1),
    });
    const tags = async () => (await t.request('GET', '/v1/users/tag-1')).body.profile.tags;
    await t.request('POST', '/v1/batch', {
      body: { batch: [track('coupon_used', 1), track('coupon_used', 2)] },
    });
    await t.settle();
    assert.deepEqual(await tags(), []);
    await t.request('POST', '/v1/batch', {
      body: { batch: [track('coupon_used', 3), track('wechat_follow', 4, { appId: 'wx_official_demo' })] },
    });
    await t.settle();
    // coupon_hunter from the tag rule; price_sensitive from the demo segment of the same name.
    assert.deepEqual(await tags(), ['coupon_hunter', 'price_sensitive', 'wechat_follower']);
    await t.request('POST', '/v1/batch', {
      body: {
        batch: [
          track('wechat_unfollow', 5, { appId: 'wx_official_demo' }),
          track('order_paid', 6, { orderId: 'x', amount: 2500 }),
          track('coupon_used', 3),
        ],
      },
    });
    await t.settle();
    assert.deepEqual(await tags(), ['big_ticket', 'coupon_hunter', 'high_value', 'price_sensitive']);
    const events = (await t.request('GET', '/v1/users/tag-1?limit=100&include=internal')).body.events;
    const changes = events
      .filter((e: { event: string }) => e.event === 'tag_added' || e.event === 'tag_removed')
      .map((e: { event: string; properties: { tag: string } }) => `${e.event}:${e.properties.tag}`)
      .sort();
    assert.deepEqual(changes, [
      'tag_added:big_ticket',
      'tag_added:coupon_hunter',
      'tag_added:wechat_follower',
      'tag_removed:wechat_follower',
    ]);
  });
});
