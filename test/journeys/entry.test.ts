import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Step } from '../../journeys/journey.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import type { StoredEvent } from '../../model/events.ts';
import { newProfile } from '../../profiles/apply.ts';
import { JourneySet } from '../../journeys/journey-set.ts';
import { journeysOnEvents, journeysOverTime } from '../../journeys/runtime.ts';
import { type Engine, identify, journey, journeyEngine, track } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z'); // 10:00 in Shanghai
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const note = (template: string): Step => ({ id: 'note', type: 'send', channel: 'sandbox', template });
const pause: Step = { id: 'pause', type: 'wait', duration: 'PT2H' };
/** A trigger handed to the runtime directly. */
const ping: StoredEvent = {
  messageId: 'ping-1',
  type: 'track',
  event: 'ping',
  timestamp: T0,
  receivedAt: T0,
};

/** A one-message journey entered and completed at `at`. */
const once = (at: string, via: string, template: string, status = 'sandbox') => [
  `${at} journey_entered via ${via}`,
  `${at} message_sent sandbox:${template} ${status}`,
  `${at} journey_exited completed`,
];

/** A wait-two-hours-then-message journey entered at `at` (HH:MM on 03-02) and completed. */
const waited = (day: string, at: string, done: string, template: string) => [
  `${day} ${at} journey_entered via visit`,
  `${day} ${at} journey_step pause timer 2026-${day}T${done}:00.000Z`,
  `${day} ${done} journey_step note reached`,
  `${day} ${done} message_sent sandbox:${template} sandbox`,
  `${day} ${done} journey_exited completed`,
];

describe('entry: re-entry rules and the minimum interval', () => {
  let e: Engine;
  before(async () => {
    e = await journeyEngine(
      {
        journeys: [
          journey('never', 'visit', [note('never')]),
          journey('after_exit', 'visit', [pause, note('after_exit')], { entry: { reentry: 'afterExit' } }),
          journey('anytime', 'visit', [pause, note('anytime')], { entry: { reentry: 'anytime' } }),
          journey('spaced', 'visit', [note('spaced')], {
            entry: { reentry: 'afterExit', minInterval: 'P1D' },
          }),
        ],
      },
      T0,
    );
    // Ann visits at 02:00, 03:00, 06:00 and 03:00 the next day.
    for (const at of [T0, T0 + HOUR, T0 + 4 * HOUR, T0 + 25 * HOUR]) {
      await e.clock.advanceTo(at);
      await e.send([track('ann', 'visit', at)]);
    }
    await e.clock.advanceTo(T0 + 3 * DAY);
  });
  after(() => e.close());

  it('never (the default): the first trigger only, even after the user exited', async () => {
    assert.deepEqual(await e.timeline('ann', 'never'), once('03-02 02:00', 'visit', 'never'));
  });

  it('afterExit: ignored while active, accepted once the user has left', async () => {
    assert.deepEqual(await e.timeline('ann', 'after_exit'), [
      // 03:00: still waiting, ignored.
      ...waited('03-02', '02:00', '04:00', 'after_exit'),
      ...waited('03-02', '06:00', '08:00', 'after_exit'),
      ...waited('03-03', '03:00', '05:00', 'after_exit'),
    ]);
  });

  it('anytime: a new trigger restarts the user, the old enrollment exits as reentered', async () => {
    assert.deepEqual(await e.timeline('ann', 'anytime'), [
      '03-02 02:00 journey_entered via visit',
      '03-02 02:00 journey_step pause timer 2026-03-02T04:00:00.000Z',
      '03-02 03:00 journey_exited reentered',
      // The first enrollment's timer (04:00) passes without effect.
      ...waited('03-02', '03:00', '05:00', 'anytime'),
      ...waited('03-02', '06:00', '08:00', 'anytime'),
      ...waited('03-03', '03:00', '05:00', 'anytime'),
    ]);
  });

  it('minInterval: entries closer than the interval to the last entry are ignored', async () => {
    assert.deepEqual(await e.timeline('ann', 'spaced'), [
      ...once('03-02 02:00', 'visit', 'spaced'),
      // 03:00 and 06:00: within a day of 02:00.
      ...once('03-03 03:00', 'visit', 'spaced'),
    ]);
  });
});

describe('entry: one enrollment per trigger event', () => {
  let e: Engine;
  before(async () => {
    e = await journeyEngine(
      { journeys: [journey('every', 'ping', [note('every')], { entry: { reentry: 'anytime' } })] },
      T0,
    );
    const ping = track('ann', 'ping', T0, {}, { messageId: 'ping-1' });
    // Twice in one batch, then again in a later batch (a client retry).
    await e.send([ping, ping]);
    await e.clock.advanceTo(T0 + HOUR);
    await e.send([ping]);
    await e.send([track('ann', 'ping', T0 + HOUR, {}, { messageId: 'ping-2' })]);
  });
  after(() => e.close());

  it('the same trigger messageId enrols once; another one enrols again', async () => {
    assert.deepEqual(await e.timeline('ann'), [
      ...once('03-02 02:00', 'ping', 'every'),
      ...once('03-02 03:00', 'ping', 'every'),
    ]);
    const entries = (await e.log('ann')).filter((x) => x.event === 'journey_entered');
    assert.deepEqual(
      entries.map((x) => x.properties?.enrollmentId),
      ['every:ping-1', 'every:ping-2'],
    );
  });
});

it('the runtime itself never enrols twice on one trigger event (e.g. the same move handed over twice)', () => {
  const journeys = new JourneySet([
    journey('every', 'ping', [pause, note('every')], { entry: { reentry: 'anytime' } }),
  ]);
  const profile = newProfile('u:ann', 'ann');
  const options = { journeys, now: T0, timezone: 'Asia/Shanghai' };
  const first = journeysOnEvents(profile, [ping], options);
  assert.deepEqual(
    first.map((x) => x.event),
    ['journey_entered', 'journey_step'],
  );
  assert.deepEqual(journeysOnEvents(profile, [ping], { ...options, now: T0 + MIN }), []);
  // Even once that enrollment is over.
  journeysOverTime(profile, { ...options, now: T0 + 3 * HOUR });
  assert.equal(profile.journeys?.every.active, null);
  assert.deepEqual(journeysOnEvents(profile, [ping], { ...options, now: T0 + 3 * HOUR }), []);
  assert.equal(profile.journeys?.every.entries, 1);
});

it('the global control group (profile buckets) enters no journey: the first check', () => {
  const journeys = new JourneySet([journey('any', 'ping', [note('any')])]);
  const controlled = { ...newProfile('u:c', 'c'), bucket: 50 };
  const treated = { ...newProfile('u:t', 't'), bucket: 5000 };
  const options = { journeys, now: T0, timezone: 'Asia/Shanghai', globalControl: { from: 0, to: 100 } };
  // Held, not enrolled: one hold entry (the reports' control group), no enrollment, nothing sent.
  assert.deepEqual(
    journeysOnEvents(controlled, [ping], options).map((x) => [x.event, x.properties?.reason]),
    [['journey_held', 'global_control']],
  );
  assert.equal(controlled.journeys?.any?.active, null);
  assert.deepEqual(
    journeysOnEvents(treated, [ping], options).map((x) => x.event),
    ['journey_entered', 'message_sent', 'journey_exited'],
  );
});

describe('entry: audience', () => {
  let e: Engine;
  const gold: SegmentDefinition = {
    id: 'gold',
    version: 1,
    name: 'Gold members',
    condition: { fact: 'profile', path: '$.traits.tier', operator: 'equal', value: 'gold' },
  };
  before(async () => {
    e = await journeyEngine(
      {
        segments: [gold],
        journeys: [
          journey('gold_only', 'visit', [note('gold_only')], { audience: { segment: 'gold' } }),
          journey('adults', 'visit', [note('adults')], {
            audience: {
              condition: {
                fact: 'profile',
                path: '$.traits.age',
                operator: 'greaterThanInclusive',
                value: 18,
              },
            },
          }),
        ],
      },
      T0,
    );
    await e.send([
      identify('gia', { tier: 'gold', age: 30 }, T0 - MIN),
      identify('kid', { tier: 'gold', age: 12 }, T0 - MIN),
      identify('pat', { tier: 'silver', age: 40 }, T0 - MIN),
      ...['gia', 'kid', 'pat'].map((u) => track(u, 'visit', T0)),
    ]);
  });
  after(() => e.close());

  it('a segment: members only', async () => {
    assert.deepEqual(await e.timeline('gia', 'gold_only'), once('03-02 02:00', 'visit', 'gold_only'));
    assert.deepEqual(await e.timeline('kid', 'gold_only'), once('03-02 02:00', 'visit', 'gold_only'));
    assert.deepEqual(await e.timeline('pat', 'gold_only'), []);
  });

  it('a condition on the profile', async () => {
    assert.deepEqual(await e.timeline('gia', 'adults'), once('03-02 02:00', 'visit', 'adults'));
    assert.deepEqual(await e.timeline('kid', 'adults'), []);
    assert.deepEqual(await e.timeline('pat', 'adults'), once('03-02 02:00', 'visit', 'adults'));
  });
});

describe('entry: reachability (an address and consent on at least one send channel)', () => {
  let e: Engine;
  const sms: Step = { id: 'sms', type: 'send', channel: 'sms', template: 'promo_sms' };
  const held = journey('held_sms', 'visit', [sms], { holdout: { percent: 100 } });
  /** Entered on the 02:00 visit, one message, done. */
  const visited = (message: string, holdout = false) => [
    `03-02 02:00 journey_entered via visit${holdout ? ' (holdout)' : ''}`,
    `03-02 02:00 message_sent ${message}`,
    '03-02 02:00 journey_exited completed',
  ];
  before(async () => {
    e = await journeyEngine(
      {
        journeys: [
          journey('sms_only', 'visit', [sms]),
          journey('sms_or_email', 'visit', [
            { ...sms, fallback: { channel: 'email', template: 'promo_email' } },
          ]),
          held,
          journey('tags_only', 'visit', [{ id: 'tag', type: 'tag', add: ['visitor'] }]),
        ],
      },
      T0,
    );
    await e.send([
      identify('yes', { phone: '+8613800000001', consent: { sms: true } }, T0 - MIN),
      identify(
        'no',
        { phone: '+8613800000002', email: 'no@example.com', consent: { sms: false, email: true } },
        T0 - MIN,
      ),
      // Promotional SMS needs consent given beforehand: none recorded is no consent.
      identify('unasked', { phone: '+8613800000003' }, T0 - MIN),
      // Consent on both channels, an address on neither.
      identify('nowhere', { consent: { sms: true, email: true } }, T0 - MIN),
      // An SMS address without consent, email consent without an address: neither channel is whole.
      identify('halves', { phone: '+8613800000004', consent: { sms: false, email: true } }, T0 - MIN),
      ...['yes', 'no', 'unasked', 'nowhere', 'halves'].map((u) => track(u, 'visit', T0)),
      // Their address comes with an identify 2 s and 10 s after the trigger.
      ...['trailing', 'late'].map((u) => track(u, 'visit', T0)),
    ]);
    const reachable = { phone: '+8613800000009', consent: { sms: true } };
    await e.clock.advanceTo(T0 + 2000);
    await e.send([identify('trailing', reachable, T0 + 2000)]);
    await e.clock.advanceTo(T0 + 10_000);
    await e.send([identify('late', reachable, T0 + 10_000)]);
    await e.clock.advanceTo(T0 + HOUR);
  });
  after(() => e.close());

  it('a journey that only sends SMS does not enrol a user without SMS consent', async () => {
    assert.deepEqual(await e.timeline('yes', 'sms_only'), visited('sms:promo_sms sandbox'));
    assert.deepEqual(await e.timeline('no', 'sms_only'), []);
    assert.deepEqual(await e.timeline('unasked', 'sms_only'), []);
  });

  it('no address on any channel: no entry, whatever the consent', async () => {
    assert.deepEqual(await e.timeline('nowhere', 'sms_only'), []);
    assert.deepEqual(await e.timeline('nowhere', 'sms_or_email'), []);
  });

  it('a trigger waits 5 s for a trailing identify: the user enters at its time, or not at all', async () => {
    assert.deepEqual(await e.timeline('trailing', 'sms_only'), visited('sms:promo_sms sandbox'));
    assert.deepEqual(await e.timeline('late', 'sms_only'), []);
    const profile = (await e.store.getProfiles(['u:late'])).get('u:late');
    assert.equal(profile?.journeys?.sms_only, undefined, 'nothing kept of a trigger let go');
  });

  it('an address and consent must be on the same channel', async () => {
    assert.deepEqual(await e.timeline('halves', 'sms_or_email'), []);
  });

  it('one reachable channel of two (here the fallback) is enough to enter', async () => {
    assert.deepEqual(await e.timeline('no', 'sms_or_email'), visited('email:promo_email sandbox'));
  });

  it('holdout users by the same rule: one who cannot be reached is not enrolled in the holdout either', async () => {
    assert.deepEqual(await e.timeline('yes', 'held_sms'), visited('sms:promo_sms shadow', true));
    for (const u of ['no', 'unasked', 'nowhere', 'halves'])
      assert.deepEqual(await e.timeline(u, 'held_sms'), [], u);
  });

  it('a journey without a send step has no reachability condition', async () => {
    for (const u of ['yes', 'nowhere', 'halves'])
      assert.deepEqual(
        (await e.timeline(u, 'tags_only')).map((l) => l.split(' ').slice(2, 3).join()),
        ['journey_entered', 'journey_step', 'journey_exited'],
        u,
      );
  });
});

it('the global control group holds only users the journey could reach', () => {
  const journeys = new JourneySet([
    journey('sms', 'ping', [{ id: 'sms', type: 'send', channel: 'sms', template: 'promo_sms' }]),
  ]);
  const options = { journeys, now: T0, timezone: 'Asia/Shanghai', globalControl: { from: 0, to: 100 } };
  const unreachable = { ...newProfile('u:c', 'c'), bucket: 50 };
  assert.deepEqual(journeysOnEvents(unreachable, [ping], options), []);
  const reachable = {
    ...newProfile('u:r', 'r'),
    bucket: 50,
    traits: { phone: '+8613800000005' },
    consent: { sms: { granted: true, at: T0 - MIN } },
  };
  assert.deepEqual(
    journeysOnEvents(reachable, [ping], options).map((x) => [x.event, x.properties?.reason]),
    [['journey_held', 'global_control']],
  );
});

describe('entry: holdout', () => {
  let e: Engine;
  const USERS = Array.from({ length: 1000 }, (_, i) => `h${i}`);
  const v1 = journey('held', 'visit', [note('held')], {
    holdout: { percent: 50 },
    entry: { reentry: 'afterExit' },
  });
  /** Per user: whether each entry was a holdout one, and the status of each message. */
  const entries = new Map<string, boolean[]>();
  const statuses = new Map<string, string[]>();
  before(async () => {
    e = await journeyEngine({ journeys: [v1] }, T0);
    await e.send(USERS.map((u) => track(u, 'visit', T0)));
    await e.clock.advanceTo(T0 + DAY);
    // The first hundred come back, the second time on a new version.
    e.publish({ journeys: [v1, { ...v1, version: 2, steps: [note('held_v2')] }] });
    await e.send(USERS.slice(0, 100).map((u) => track(u, 'visit', T0 + DAY)));
    for (const u of USERS) {
      const log = await e.log(u);
      entries.set(
        u,
        log.filter((x) => x.event === 'journey_entered').map((x) => x.properties?.holdout === true),
      );
      statuses.set(
        u,
        log.filter((x) => x.event === 'message_sent').map((x) => String(x.properties?.status)),
      );
    }
  });
  after(() => e.close());

  it('about half of 1,000 users are held out', () => {
    const held = USERS.filter((u) => entries.get(u)![0]).length;
    assert.ok(held >= 450 && held <= 550, `held out: ${held}`);
  });

  it("held-out users walk the journey as shadows: their sends are recorded with status 'shadow'", async () => {
    const heldUser = USERS.find((u) => entries.get(u)![0])!;
    const treated = USERS.find((u) => !entries.get(u)![0])!;
    assert.deepEqual((await e.timeline(heldUser)).slice(0, 3), [
      '03-02 02:00 journey_entered via visit (holdout)',
      '03-02 02:00 message_sent sandbox:held shadow',
      '03-02 02:00 journey_exited completed',
    ]);
    assert.deepEqual((await e.timeline(treated)).slice(0, 3), once('03-02 02:00', 'visit', 'held'));
    for (const u of USERS) {
      const expected = entries.get(u)!.map((held) => (held ? 'shadow' : 'sandbox'));
      assert.deepEqual(statuses.get(u), expected, u);
    }
  });

  it('the assignment is stable across re-entries and versions', async () => {
    for (const u of USERS.slice(0, 100)) {
      const [first, second] = entries.get(u)!;
      assert.equal(second, first, u);
    }
    const [, again] = (await e.log(USERS[0])).filter((x) => x.event === 'journey_entered');
    assert.equal(again.properties?.version, 2);
  });
});
