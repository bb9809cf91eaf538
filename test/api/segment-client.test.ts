import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

let t: TestEngine;
before(async () => {
  t = await startTestEngine();
});
after(() => t.close());

it('takes events from the real @segment/analytics-node client and shows them on the profile', async () => {
  const analytics = new Analytics({ writeKey: KEYS.write, host: t.url, flushAt: 5, flushInterval: 50 });
  const failures: unknown[] = [];
  analytics.on('error', (e) => failures.push(e));
  analytics.identify({
    userId: 'sdk-user',
    anonymousId: 'sdk-anon',
    traits: { email: 'sdk@example.com', city: 'Shenzhen' },
    timestamp: new Date('2026-11-20T10:00:00Z'),
  });
  for (let i = 0; i < 12; i++) {
    analytics.track({
      userId: 'sdk-user',
      event: 'product_viewed',
      properties: { productId: `p${i}`, price: 10 + i },
      timestamp: new Date(Date.parse('2026-11-20T10:00:01Z') + i * 1000),
    });
  }
  analytics.page({ anonymousId: 'sdk-anon', name: 'Home', timestamp: new Date('2026-11-20T09:59:00Z') });
  await analytics.closeAndFlush();
  assert.deepEqual(failures, []);
  await t.settle();

  const res = await t.request('GET', '/v1/users/sdk-user?limit=100');
  assert.equal(res.status, 200);
  const { profile, events } = res.body;
  assert.equal(profile.traits.city, 'Shenzhen');
  assert.equal(profile.channels.email.address, 'sdk@example.com');
  assert.deepEqual(profile.anonymousIds, ['sdk-anon']);
  assert.equal(profile.eventCount, 14);
  assert.equal(profile.createdAt, '2026-11-20T09:59:00.000Z');
  assert.equal(profile.lastSeenAt, '2026-11-20T10:00:12.000Z');
  assert.equal(events.length, 14);
  assert.equal(events.filter((e: { event: string }) => e.event === 'product_viewed').length, 12);
  // Newest first.
  assert.equal(events[0].properties.productId, 'p11');
});
