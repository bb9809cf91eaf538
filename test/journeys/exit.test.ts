import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import { identify, journeyEngine, track } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z'); // 10:00 in Shanghai
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

type Engine = Awaited<ReturnType<typeof journeyEngine>>;

/** Two daily messages after signing up. */
const drip = (extra: Partial<JourneyDefinition>): JourneyDefinition => ({
  id: 'drip',
  version: 1,
  name: 'Drip',
  trigger: { type: 'event', event: 'signup' },
  steps: [
    { id: 'day1', type: 'wait', duration: 'P1D' },
    { id: 'first', type: 'send', channel: 'sandbox', template: 'drip_1' },
    { id: 'day2', type: 'wait', duration: 'P1D' },
    { id: 'second', type: 'send', channel: 'sandbox', template: 'drip_2' },
  ],
  ...extra,
});

const entered = [
  '03-02 02:00 journey_entered via signup',
  '03-02 02:00 journey_step day1 timer 2026-03-03T02:00:00.000Z',
];

const completed = [
  ...entered,
  '03-03 02:00 journey_step first reached',
  '03-03 02:00 message_sent sandbox:drip_1 sandbox',
  '03-03 02:00 journey_step day2 reached',
  '03-03 02:00 journey_step day2 timer 2026-03-04T02:00:00.000Z',
  '03-04 02:00 journey_step second reached',
  '03-04 02:00 message_sent sandbox:drip_2 sandbox',
  '03-04 02:00 journey_exited completed',
];

async function activeEnrollment(e: Engine, userId: string) {
  const profile = (await e.store.getProfiles([`u:${userId}`])).get(`u:${userId}`)!;
  return profile.journeys?.drip.active ?? null;
}

describe('exit: on an event with a where condition', () => {
  let e: Engine;
  before(async () => {
    const exit = [
      {
        event: 'order_paid',
        where: { fact: 'event', path: '$.properties.amount', operator: 'greaterThanInclusive', value: 100 },
      },
    ];
    e = await journeyEngine({ journeys: [drip({ exit })] }, T0);
    await e.send([
      track('small', 'signup', T0),
      track('big', 'signup', T0),
      // In the trigger's batch, a moment later: the user leaves at once.
      track('quick', 'signup', T0),
      track('quick', 'order_paid', T0 + MIN, { amount: 500 }),
    ]);
    await e.clock.advanceTo(T0 + HOUR);
    await e.send([
      track('small', 'order_paid', T0 + HOUR, { amount: 50 }),
      track('big', 'order_paid', T0 + HOUR, { amount: 150 }),
    ]);
    await e.clock.advanceTo(T0 + 5 * DAY);
  });
  after(() => e.close());

  it('an event failing the where does not end the enrollment', async () => {
    assert.deepEqual(await e.timeline('small'), completed);
  });

  it('a matching event ends it with the reason, and the pending wait is cancelled', async () => {
    // The wait was due at 03-03 02:00: that time has passed and nothing more happened.
    assert.deepEqual(await e.timeline('big'), [...entered, '03-02 03:00 journey_exited event:order_paid']);
    assert.equal(await activeEnrollment(e, 'big'), null);
  });

  it('an exit event in the same batch as the trigger, with a later timestamp', async () => {
    assert.deepEqual(await e.timeline('quick'), [...entered, '03-02 02:01 journey_exited event:order_paid']);
  });
});

describe('exit: on leaving a segment', () => {
  let e: Engine;
  const subscribers: SegmentDefinition = {
    id: 'subscribers',
    version: 1,
    name: 'Subscribed',
    condition: { fact: 'profile', path: '$.traits.subscribed', operator: 'equal', value: true },
  };
  before(async () => {
    e = await journeyEngine(
      {
        segments: [subscribers],
        journeys: [drip({ exit: [{ segment: 'subscribers', on: 'exited' }] })],
      },
      T0,
    );
    await e.send([
      identify('stays', { subscribed: true }, T0 - MIN),
      identify('leaves', { subscribed: true }, T0 - MIN),
      track('stays', 'signup', T0),
      track('leaves', 'signup', T0),
    ]);
    await e.clock.advanceTo(T0 + 30 * HOUR);
    await e.send([identify('leaves', { subscribed: false }, T0 + 30 * HOUR)]);
    await e.clock.advanceTo(T0 + 5 * DAY);
  });
  after(() => e.close());

  it('the segment exit ends the enrollment wherever the user is; the pending wait does not fire', async () => {
    assert.deepEqual(await e.timeline('leaves'), [
      ...completed.slice(0, 6),
      '03-03 08:00 journey_exited segment_exited:subscribers',
    ]);
    assert.equal(await activeEnrollment(e, 'leaves'), null);
    assert.deepEqual(await e.timeline('stays'), completed);
  });
});

describe('exit: cancels a queued (deferred) send', () => {
  let e: Engine;
  const NIGHT = Date.parse('2026-03-02T14:00:00Z'); // 22:00 in Shanghai
  before(async () => {
    const promo: JourneyDefinition = {
      id: 'promo',
      version: 1,
      name: 'Promo',
      trigger: { type: 'event', event: 'signup' },
      exit: [{ event: 'unsubscribe' }],
      policy: { quietHours: { start: '21:00', end: '08:00', action: 'defer' } },
      steps: [{ id: 'offer', type: 'send', channel: 'sandbox', template: 'promo' }],
    };
    e = await journeyEngine({ journeys: [promo] }, NIGHT);
    await e.send([track('ann', 'signup', NIGHT), track('bob', 'signup', NIGHT)]);
    await e.clock.advanceTo(NIGHT + HOUR);
    await e.send([track('ann', 'unsubscribe', NIGHT + HOUR)]);
    await e.clock.advanceTo(NIGHT + DAY);
  });
  after(() => e.close());

  it('the message deferred to the end of the quiet hours is never sent after the exit', async () => {
    assert.deepEqual(await e.timeline('ann'), [
      '03-02 14:00 journey_entered via signup',
      '03-02 14:00 journey_step offer deferred 2026-03-03T00:00:00.000Z',
      '03-02 15:00 journey_exited event:unsubscribe',
    ]);
    assert.deepEqual(await e.timeline('bob'), [
      '03-02 14:00 journey_entered via signup',
      '03-02 14:00 journey_step offer deferred 2026-03-03T00:00:00.000Z',
      '03-03 00:00 message_sent sandbox:promo sandbox',
      '03-03 00:00 journey_exited completed',
    ]);
  });
});

describe('versions', () => {
  let e: Engine;
  const v1: JourneyDefinition = {
    id: 'welcome',
    version: 1,
    name: 'Welcome',
    trigger: { type: 'event', event: 'signup' },
    steps: [
      { id: 'pause', type: 'wait', duration: 'P1D' },
      { id: 'hello', type: 'send', channel: 'sandbox', template: 'welcome_v1' },
    ],
  };
  // Version 2: a shorter wait, another template, a step renamed.
  const v2: JourneyDefinition = {
    ...v1,
    version: 2,
    steps: [
      { id: 'short_pause', type: 'wait', duration: 'PT12H' },
      { id: 'hello', type: 'send', channel: 'sandbox', template: 'welcome_v2' },
    ],
  };
  before(async () => {
    e = await journeyEngine({ journeys: [v1] }, T0);
    await e.send([track('early', 'signup', T0)]);
    await e.clock.advanceTo(T0 + HOUR);
    e.publish({ journeys: [v1, v2] });
    await e.clock.advanceTo(T0 + 2 * HOUR);
    await e.send([track('later', 'signup', T0 + 2 * HOUR)]);
    await e.clock.advanceTo(T0 + 3 * DAY);
  });
  after(() => e.close());

  it('a user in flight stays on the version they entered', async () => {
    assert.deepEqual(await e.timeline('early'), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step pause timer 2026-03-03T02:00:00.000Z',
      '03-03 02:00 journey_step hello reached',
      '03-03 02:00 message_sent sandbox:welcome_v1 sandbox',
      '03-03 02:00 journey_exited completed',
    ]);
    assert.deepEqual(
      (await e.log('early')).map((x) => x.properties?.version),
      [1, 1, 1, 1, 1],
    );
  });

  it('new entries use the latest published version', async () => {
    assert.deepEqual(await e.timeline('later'), [
      '03-02 04:00 journey_entered via signup',
      '03-02 04:00 journey_step short_pause timer 2026-03-02T16:00:00.000Z',
      '03-02 16:00 journey_step hello reached',
      '03-02 16:00 message_sent sandbox:welcome_v2 sandbox',
      '03-02 16:00 journey_exited completed',
    ]);
    assert.deepEqual(
      (await e.log('later')).map((x) => x.properties?.version),
      [2, 2, 2, 2, 2],
    );
  });
});
