import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JourneyDefinition, Trigger } from '../../journeys/journey.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import { journeyEngine, track } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z'); // Monday, 10:00 in Shanghai
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** A journey sending one sandbox message when `trigger` fires. */
const notify = (id: string, trigger: Trigger, extra: Partial<JourneyDefinition> = {}): JourneyDefinition => ({
  id,
  version: 1,
  name: id,
  trigger,
  steps: [{ id: 'note', type: 'send', channel: 'sandbox', template: `${id}_note` }],
  ...extra,
});

/** The timeline of a one-message journey entered at `at` (MM-DD HH:MM, UTC). */
const notified = (at: string, via: string, template: string) => [
  `${at} journey_entered via ${via}`,
  `${at} message_sent sandbox:${template} sandbox`,
  `${at} journey_exited completed`,
];

describe('trigger: an event with a where condition on it', () => {
  let e: Awaited<ReturnType<typeof journeyEngine>>;
  before(async () => {
    const bigOrder = notify('big_order', {
      type: 'event',
      event: 'order_paid',
      where: { fact: 'event', path: '$.properties.amount', operator: 'greaterThanInclusive', value: 500 },
    });
    e = await journeyEngine({ journeys: [bigOrder] }, T0);
    await e.send([
      track('ann', 'order_paid', T0, { amount: 800 }),
      track('bob', 'order_paid', T0, { amount: 120 }),
      // Same amount, another event name: not the trigger.
      track('cai', 'order_refunded', T0, { amount: 800 }),
    ]);
    await e.clock.advanceTo(T0 + HOUR);
    await e.send([track('bob', 'order_paid', T0 + HOUR, { amount: 500 })]);
  });
  after(() => e.close());

  it('enrols on the events whose properties satisfy the where, at the event time', async () => {
    assert.deepEqual(await e.timeline('ann'), notified('03-02 02:00', 'order_paid', 'big_order_note'));
    assert.deepEqual(await e.timeline('bob'), notified('03-02 03:00', 'order_paid', 'big_order_note'));
    assert.deepEqual(await e.timeline('cai'), []);
  });
});

describe('trigger: segment entered and segment exited', () => {
  let e: Awaited<ReturnType<typeof journeyEngine>>;
  const repeatBuyers: SegmentDefinition = {
    id: 'repeat_buyers',
    version: 1,
    name: 'Two orders or more',
    condition: {
      fact: 'aggregate',
      params: { event: 'order_paid', fn: 'count' },
      operator: 'greaterThanInclusive',
      value: 2,
    },
  };
  const busyDay: SegmentDefinition = {
    id: 'busy_day',
    version: 1,
    name: 'Two orders or more in 24 hours',
    condition: {
      fact: 'aggregate',
      params: { event: 'order_paid', fn: 'count', within: 'PT24H' },
      operator: 'greaterThanInclusive',
      value: 2,
    },
  };
  before(async () => {
    e = await journeyEngine(
      {
        segments: [repeatBuyers, busyDay],
        journeys: [
          notify('repeat_welcome', { type: 'segment', segment: 'repeat_buyers', on: 'entered' }),
          notify('busy_day_over', { type: 'segment', segment: 'busy_day', on: 'exited' }),
        ],
      },
      T0,
    );
    await e.send([track('ann', 'order_paid', T0, { amount: 10 }), track('bob', 'order_paid', T0)]);
    await e.clock.advanceTo(T0 + HOUR);
    await e.send([track('ann', 'order_paid', T0 + HOUR, { amount: 20 })]);
    await e.clock.advanceTo(T0 + 3 * DAY);
  });
  after(() => e.close());

  it('enters on the segment entry caused by the second order', async () => {
    assert.deepEqual(
      await e.timeline('ann', 'repeat_welcome'),
      notified('03-02 03:00', 'segment_entered', 'repeat_welcome_note'),
    );
  });

  it("enters on the segment exit when the first order leaves the 24-hour window (the user's timer)", async () => {
    // Hourly buckets: the 02:00 order leaves the window at 03:00 the next day.
    assert.deepEqual(
      await e.timeline('ann', 'busy_day_over'),
      notified('03-03 03:00', 'segment_exited', 'busy_day_over_note'),
    );
  });

  it('a user who never crosses the threshold enters neither', async () => {
    assert.deepEqual(await e.timeline('bob'), []);
  });
});

describe('trigger: lifecycle changed', () => {
  let e: Awaited<ReturnType<typeof journeyEngine>>;
  before(async () => {
    e = await journeyEngine(
      {
        journeys: [
          notify('win_back', { type: 'lifecycle', to: 'dormant' }),
          notify('settled_in', { type: 'lifecycle', from: 'new', to: 'active' }),
          notify('welcome_back', { type: 'lifecycle', from: 'dormant', to: 'active' }),
          notify('any_active', { type: 'lifecycle', to: 'active' }, { entry: { reentry: 'afterExit' } }),
        ],
      },
      T0,
    );
    // Ann's first event is not a conversion: new, active after 7 days, dormant 30 days after it.
    // Bob's first event is an order (a conversion): active at once, from no state.
    await e.send([track('ann', 'app_open', T0), track('bob', 'order_paid', T0, { amount: 1 })]);
    await e.clock.advanceTo(T0 + 35 * DAY);
    // Ann comes back: dormant to active (the default lifecycle has no reactivated stage).
    await e.send([track('ann', 'app_open', T0 + 35 * DAY)]);
  });
  after(() => e.close());

  it("to: dormant enters when the user's timer moves them, stamped with the move's time", async () => {
    assert.deepEqual(
      await e.timeline('ann', 'win_back'),
      notified('04-01 02:00', 'lifecycle_changed', 'win_back_note'),
    );
    const [entered] = await e.log('ann', 'win_back');
    assert.equal(entered.timestamp, T0 + 30 * DAY);
    assert.equal(entered.receivedAt, T0 + 30 * DAY, 'decided when the move fell due, not later');
    // Bob went dormant 30 days after his order too.
    assert.deepEqual(
      await e.timeline('bob', 'win_back'),
      notified('04-01 02:00', 'lifecycle_changed', 'win_back_note'),
    );
  });

  it('from: new to: active only for the move out of new', async () => {
    assert.deepEqual(
      await e.timeline('ann', 'settled_in'),
      notified('03-09 02:00', 'lifecycle_changed', 'settled_in_note'),
    );
    assert.deepEqual(await e.timeline('bob', 'settled_in'), []);
  });

  it('from: dormant to: active only for the return', async () => {
    assert.deepEqual(
      await e.timeline('ann', 'welcome_back'),
      notified('04-06 02:00', 'lifecycle_changed', 'welcome_back_note'),
    );
    assert.deepEqual(await e.timeline('bob', 'welcome_back'), []);
  });

  it('to: active without from takes every move to active, including the first state', async () => {
    assert.deepEqual(await e.timeline('ann', 'any_active'), [
      ...notified('03-09 02:00', 'lifecycle_changed', 'any_active_note'),
      ...notified('04-06 02:00', 'lifecycle_changed', 'any_active_note'),
    ]);
    assert.deepEqual(
      await e.timeline('bob', 'any_active'),
      notified('03-02 02:00', 'lifecycle_changed', 'any_active_note'),
    );
  });
});
