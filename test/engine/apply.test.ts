import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InboundMessage } from '../../model/events.ts';
import { applyMessage, bucketFor, mergeProfile, newProfile } from '../../profiles/apply.ts';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const options = { lateGraceMs: 86_400_000 };
let n = 0;
const identify = (
  traits: InboundMessage['traits'],
  at: number,
  extra: Partial<InboundMessage> = {},
): InboundMessage => ({
  type: 'identify',
  messageId: `m${n++}`,
  userId: 'u1',
  traits,
  timestamp: at,
  receivedAt: at,
  ...extra,
});

describe('applying messages to a profile', () => {
  it('merges traits and removes a trait given as null', () => {
    const p = newProfile('u:u1', 'u1');
    applyMessage(p, identify({ city: 'Shanghai', plan: 'pro' }, T0), options);
    applyMessage(p, identify({ plan: null, gender: 'f' }, T0 + 1000), options);
    assert.deepEqual(p.traits, { city: 'Shanghai', gender: 'f' });
  });

  it('keeps the value with the latest event time whatever the arrival order', () => {
    const a = identify({ city: 'Beijing' }, T0 + 5000);
    const b = identify({ city: 'Hangzhou' }, T0 + 1000);
    const c = identify({ city: null }, T0 + 3000);
    const orders = [
      [a, b, c],
      [c, b, a],
      [b, a, c],
    ];
    const results = orders.map((order) => {
      const p = newProfile('u:u1', 'u1');
      for (const m of order) applyMessage(p, m, options);
      return p;
    });
    for (const p of results) assert.deepEqual(p, results[0]);
    assert.equal(results[0].traits.city, 'Beijing');
  });

  it('breaks a tie at the same millisecond the same way in any order', () => {
    const a = identify({ city: 'A' }, T0);
    const b = identify({ city: 'B' }, T0);
    const p1 = newProfile('u:u1', 'u1');
    const p2 = newProfile('u:u1', 'u1');
    applyMessage(p1, a, options);
    applyMessage(p1, b, options);
    applyMessage(p2, b, options);
    applyMessage(p2, a, options);
    assert.equal(p1.traits.city, p2.traits.city);
  });

  it('keeps first and last seen by event time and counts messages', () => {
    const p = newProfile('u:u1', 'u1');
    applyMessage(p, identify({}, T0 + 10), options);
    applyMessage(p, identify({}, T0), options);
    applyMessage(p, identify({}, T0 + 5), options);
    assert.equal(p.createdAt, T0);
    assert.equal(p.lastSeenAt, T0 + 10);
    assert.equal(p.eventCount, 3);
  });

  it('takes consent per channel, timezone, WeChat openids and push tokens out of traits and context', () => {
    const p = newProfile('u:u1', 'u1');
    applyMessage(
      p,
      identify({ consent: { sms: true, email: false }, timezone: 'Asia/Shanghai' }, T0, {
        context: { wechat: { appId: 'wx1', openId: 'o-1' }, device: { type: 'ios', token: 'tok-1' } },
      }),
      options,
    );
    applyMessage(p, identify({ consent: { sms: false } }, T0 + 1), options);
    assert.deepEqual(p.consent, { sms: { granted: false, at: T0 + 1 }, email: { granted: false, at: T0 } });
    assert.equal(p.timezone, 'Asia/Shanghai');
    assert.deepEqual(p.wechat, { wx1: { openId: 'o-1', at: T0 } });
    assert.deepEqual(p.pushTokens, [{ token: 'tok-1', platform: 'ios', provider: 'apns', seenAt: T0 }]);
    assert.equal(p.traits.consent, undefined);
  });

  it('flags an event older than the grace period on arrival as late', () => {
    const p = newProfile('u:u1', 'u1');
    const stored = applyMessage(p, identify({}, T0, { receivedAt: T0 + 2 * 86_400_000 }), options);
    assert.equal(stored.late, true);
    assert.equal(applyMessage(p, identify({}, T0), options).late, undefined);
  });

  it('merging an anonymous profile equals applying its messages directly', () => {
    const anon = newProfile('a:x', null);
    const m1: InboundMessage = {
      type: 'page',
      messageId: 'p1',
      anonymousId: 'x',
      name: 'home',
      timestamp: T0,
      receivedAt: T0,
    };
    const m2 = identify({ city: 'Chengdu' }, T0 + 10, { anonymousId: 'x' });
    applyMessage(anon, m1, options);
    const merged = newProfile('u:u1', 'u1');
    applyMessage(merged, m2, options);
    mergeProfile(merged, anon);
    const direct = newProfile('u:u1', 'u1');
    applyMessage(direct, m1, options);
    applyMessage(direct, m2, options);
    assert.deepEqual(merged, direct);
  });

  it('gives every key a fixed bucket in 0-9999, spread evenly', () => {
    assert.equal(bucketFor('u:alice'), bucketFor('u:alice'));
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 20_000; i++) counts[Math.floor(bucketFor(`u:${i}`) / 1000)]++;
    for (const c of counts) assert.ok(c > 1700 && c < 2300, `bucket decile count ${c}`);
  });
});
