/**
 * Attribution decisions on one profile (conversions/attribution.ts), event by event: the goal
 * kinds and options a journey can have, and what does not count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportCounts } from '../../conversions/attribution.ts';
import { bucket, journeyScope } from '../../conversions/counters.ts';
import type { StoredEvent } from '../../model/events.ts';
import type { JsonObject } from '../../model/json.ts';
import type { Profile } from '../../model/profile.ts';
import { logEntry } from '../../journeys/enrollment.ts';
import { JourneySet } from '../../journeys/journey-set.ts';
import type { Goal, JourneyDefinition } from '../../journeys/journey.ts';
import { makeProfile } from '../../dev/profiles.ts';
import type { Counts } from '../../model/conversions.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-02T02:00:00Z');

const journeyWith = (goal: Goal): JourneyDefinition => ({
  id: 'j',
  version: 1,
  name: 'j',
  trigger: { type: 'event', event: 'cart_add' },
  goal,
  steps: [{ id: 'hello', type: 'send', channel: 'sandbox', template: 'note' }],
});

/** A user's profile and a function feeding it events, one commit each, adding up the counts. */
function user(goal: Goal) {
  const journeys = new JourneySet([journeyWith(goal)]);
  const profile: Profile = makeProfile('u:ann');
  const total: Counts = {};
  let n = 0;
  const commit = (events: StoredEvent[], now: number) => {
    const counts = reportCounts(profile, events, { journeys, now, timezone: 'UTC', graceMs: DAY });
    for (const [scope, fields] of Object.entries(counts))
      for (const [f, by] of Object.entries(fields)) {
        const s = (total[scope] ??= {});
        s[f] = (s[f] ?? 0) + by;
        if (s[f] === 0) delete s[f];
      }
  };
  const place = { journeyId: 'j', version: 1, enrollmentId: 'j:t1', step: 'hello' };
  return {
    profile,
    total,
    enter(at = T0) {
      commit([logEntry(profile, 'journey_entered', place, ['enter'], at, at, { holdout: false })], at);
    },
    call(event: string, at: number, properties: JsonObject = {}, now = at) {
      commit(
        [{ messageId: `m${n++}`, type: 'track', event, properties, timestamp: at, receivedAt: now }],
        now,
      );
    },
    internal(event: string, at: number, properties: Record<string, string>) {
      commit(
        [{ messageId: `i${n++}`, type: 'internal', event, properties, timestamp: at, receivedAt: at }],
        at,
      );
    },
    /** The journey's counters of one metric, summed. */
    sum(metric: string) {
      return Object.entries(total)
        .filter(([scope]) => scope.startsWith('j:j:'))
        .flatMap(([, fields]) => Object.entries(fields))
        .filter(([f]) => f.startsWith(`${metric}|`))
        .reduce((s, [, v]) => s + v, 0);
    },
  };
}

describe('attribution', () => {
  it('converts on the goal event that meets the where condition, with its revenue', () => {
    const u = user({
      event: 'order_paid',
      where: { fact: 'event', path: '$.properties.amount', operator: 'greaterThanInclusive', value: 100 },
      revenue: 'amount',
    });
    u.enter();
    u.call('order_paid', T0 + HOUR, { orderId: 'small', amount: 40 });
    assert.equal(u.sum('c'), 0, 'below the where condition');
    u.call('order_paid', T0 + 2 * HOUR, { orderId: 'big', amount: 120.25 });
    assert.deepEqual([u.sum('c'), u.sum('o'), u.sum('re')], [1, 1, 12_025]);
    const converted = T0 + 2 * HOUR;
    assert.equal(
      u.total[journeyScope('j', bucket(converted))]?.[`c|1|t|${bucket(T0)}|${bucket(converted)}`],
      1,
    );
  });

  it('counts a goal event before entry or after the window for nothing', () => {
    const u = user({ event: 'order_paid', within: 'P1D', revenue: 'amount' });
    u.call('order_paid', T0 - HOUR, { orderId: 'before', amount: 10 });
    u.enter();
    u.call('order_paid', T0 + DAY + 1, { orderId: 'after', amount: 10 });
    assert.deepEqual([u.sum('c'), u.sum('re')], [0, 0]);
    u.call('order_paid', T0 + DAY, { orderId: 'at-the-edge', amount: 10 });
    assert.deepEqual([u.sum('c'), u.sum('re')], [1, 1000], 'the window includes its last instant');
  });

  it('names orders by the goal orderId path, else counts each event as its own order', () => {
    const byPath = user({ event: 'order_paid', revenue: 'total', orderId: 'properties.order.id' });
    byPath.enter();
    byPath.call('order_paid', T0 + HOUR, { total: 5, 'order.id': 'flat-key-is-not-a-path' });
    byPath.call('order_paid', T0 + 2 * HOUR, { total: 5, 'order.id': 'flat-key-is-not-a-path' });
    assert.deepEqual([byPath.sum('o'), byPath.sum('re')], [2, 1000], 'no order id at the path: two orders');
    byPath.call('order_paid', T0 + 3 * HOUR, { total: 7, order: { id: 'n-1' } });
    byPath.call('order_paid', T0 + 4 * HOUR, { total: 7, order: { id: 'n-1' } });
    assert.deepEqual([byPath.sum('o'), byPath.sum('re')], [3, 1700], 'the nested id names one order');

    const u = user({ event: 'order_paid', revenue: 'amount' });
    u.enter();
    u.call('order_paid', T0 + HOUR, { orderId: 'o-1', amount: 30 });
    u.call('order_paid', T0 + 3 * HOUR, { orderId: 'o-1', amount: 30 });
    u.call('order_paid', T0 + 4 * HOUR, { orderId: 'o-2', amount: 'not a number' });
    assert.deepEqual([u.sum('c'), u.sum('o'), u.sum('re')], [1, 2, 3000]);
    // Segment's e-commerce spec: `order_id`, and an amount some clients send as a decimal string.
    u.call('order_paid', T0 + 5 * HOUR, { order_id: 'o-3', amount: '19.90' });
    u.call('order_paid', T0 + 6 * HOUR, { order_id: 'o-3', amount: '19.90' });
    assert.deepEqual([u.sum('o'), u.sum('re')], [3, 4990]);
  });

  it('converts on entering the goal segment', () => {
    const u = user({ segment: 'buyers', within: 'P3D' });
    u.enter();
    u.internal('segment_entered', T0 + HOUR, { segmentId: 'other' });
    assert.equal(u.sum('c'), 0);
    u.internal('segment_entered', T0 + 2 * DAY, { segmentId: 'buyers' });
    assert.deepEqual([u.sum('c'), u.sum('re')], [1, 0]);
  });

  it('lets a window go a grace period after it closes: a goal event arriving later counts for nothing', () => {
    const u = user({ event: 'order_paid', within: 'P1D', revenue: 'amount' });
    u.enter();
    u.call('ping', T0 + 3 * DAY);
    assert.equal(u.profile.conversions, undefined, 'closed at T0 + 1 day, let go a day later');
    u.call('order_paid', T0 + HOUR, { orderId: 'late', amount: 10 }, T0 + 3 * DAY);
    assert.equal(u.sum('c'), 0);
  });
});
