import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SegmentDefinition } from '../../segments/segment.ts';
import { type Engine, identify, journey, journeyEngine, track, waitThenHello } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z'); // Monday: 10:00 in Shanghai, Sunday 18:00 in Los Angeles
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const SHANGHAI = { timezone: 'Asia/Shanghai' };
const LOS_ANGELES = { timezone: 'America/Los_Angeles' };

async function traitsOf(e: Engine, userId: string) {
  return (await e.store.getProfiles([`u:${userId}`])).get(`u:${userId}`)!;
}

describe('step: wait', () => {
  let e: Engine;
  before(async () => {
    e = await journeyEngine(
      {
        journeys: [
          waitThenHello(),
          journey('morning', 'signup', [
            { id: 'nine', type: 'wait', until: { time: '09:00' } },
            { id: 'hello', type: 'send', channel: 'sandbox', template: 'good_morning' },
          ]),
          journey('launch', 'signup', [
            { id: 'launch_day', type: 'wait', until: { time: '09:00', date: '2026-03-10' } },
            { id: 'hello', type: 'send', channel: 'sandbox', template: 'launched' },
          ]),
        ],
      },
      T0 - MIN,
    );
    await e.send([
      identify('sh', SHANGHAI, T0 - MIN),
      identify('la', LOS_ANGELES, T0 - MIN),
      track('sh', 'signup', T0),
      track('la', 'signup', T0),
      // No timezone of their own: the workspace's (Asia/Shanghai).
      track('nz', 'signup', T0),
    ]);
    await e.clock.advanceTo(T0 + 9 * DAY);
    // After the launch date: the wait is over at once.
    await e.send([identify('late', LOS_ANGELES, T0 + 9 * DAY), track('late', 'signup', T0 + 9 * DAY)]);
    await e.clock.advanceTo(T0 + 12 * DAY);
  });
  after(() => e.close());

  it('a duration: the next step at entry plus the duration', async () => {
    assert.deepEqual(await e.timeline('sh', 'pause'), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step two_hours timer 2026-03-02T04:00:00.000Z',
      '03-02 04:00 journey_step hello reached',
      '03-02 04:00 message_sent sandbox:hello sandbox',
      '03-02 04:00 journey_exited completed',
    ]);
  });

  it("until a time of day: the next 09:00 in each user's own timezone", async () => {
    // Reached at the same instant: 10:00 in Shanghai (09:00 is tomorrow), 18:00 the day before in
    // Los Angeles (09:00 is tomorrow there, i.e. today in Shanghai).
    assert.deepEqual(await e.timeline('sh', 'morning'), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step nine timer 2026-03-03T01:00:00.000Z',
      '03-03 01:00 journey_step hello reached',
      '03-03 01:00 message_sent sandbox:good_morning sandbox',
      '03-03 01:00 journey_exited completed',
    ]);
    assert.deepEqual(await e.timeline('la', 'morning'), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step nine timer 2026-03-02T17:00:00.000Z',
      '03-02 17:00 journey_step hello reached',
      '03-02 17:00 message_sent sandbox:good_morning sandbox',
      '03-02 17:00 journey_exited completed',
    ]);
    assert.deepEqual(await e.timeline('nz', 'morning'), await e.timeline('sh', 'morning'));
  });

  it("until a date: that day's 09:00 in the user's timezone (Los Angeles is on daylight time by then)", async () => {
    assert.deepEqual(await e.timeline('sh', 'launch'), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step launch_day timer 2026-03-10T01:00:00.000Z',
      '03-10 01:00 journey_step hello reached',
      '03-10 01:00 message_sent sandbox:launched sandbox',
      '03-10 01:00 journey_exited completed',
    ]);
    assert.deepEqual(await e.timeline('la', 'launch'), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step launch_day timer 2026-03-10T16:00:00.000Z',
      '03-10 16:00 journey_step hello reached',
      '03-10 16:00 message_sent sandbox:launched sandbox',
      '03-10 16:00 journey_exited completed',
    ]);
  });

  it('until a date already past: over at once', async () => {
    assert.deepEqual(await e.timeline('late', 'launch'), [
      '03-11 02:00 journey_entered via signup',
      '03-11 02:00 journey_step launch_day timer 2026-03-11T02:00:00.000Z',
      '03-11 02:00 journey_step hello reached',
      '03-11 02:00 message_sent sandbox:launched sandbox',
      '03-11 02:00 journey_exited completed',
    ]);
  });
});

describe('step: waitFor', () => {
  let e: Engine;
  const checkout = journey('checkout', 'cart_add', [
    {
      id: 'pay',
      type: 'waitFor',
      event: 'order_paid',
      where: { fact: 'event', path: '$.properties.amount', operator: 'greaterThanInclusive', value: 100 },
      match: 'properties.cartId',
      timeout: 'PT1H',
      onEvent: 'thanks',
      onTimeout: 'remind',
    },
    { id: 'remind', type: 'send', channel: 'sandbox', template: 'remind' },
    { id: 'reminded', type: 'exit', reason: 'reminded' },
    { id: 'thanks', type: 'send', channel: 'sandbox', template: 'thanks' },
  ]);
  // The awaited event may happen before the user reaches the waitFor: it counts from entry.
  const nudge = journey('nudge', 'browse', [
    { id: 'settle', type: 'wait', duration: 'PT30M' },
    { id: 'buy', type: 'waitFor', event: 'purchase', timeout: 'PT1H', onEvent: 'bought' },
    { id: 'remind', type: 'send', channel: 'sandbox', template: 'nudge' },
    { id: 'reminded', type: 'exit', reason: 'reminded' },
    { id: 'bought', type: 'exit', reason: 'bought' },
  ]);
  // Two waitFors on the same event: one purchase passes only the first.
  const twice = journey('twice', 'loyalty', [
    { id: 'first', type: 'waitFor', event: 'purchase', timeout: 'PT1H', onTimeout: 'none' },
    { id: 'second', type: 'waitFor', event: 'purchase', timeout: 'PT1H', onEvent: 'two', onTimeout: 'one' },
    { id: 'none', type: 'exit', reason: 'no purchase' },
    { id: 'one', type: 'exit', reason: 'one purchase' },
    { id: 'two', type: 'exit', reason: 'two purchases' },
  ]);
  const cart = (user: string, at = T0) => track(user, 'cart_add', at, { cartId: `c-${user}` });
  const paid = (user: string, at: number, amount: number, cartId = `c-${user}`) =>
    track(user, 'order_paid', at, { cartId, amount });
  before(async () => {
    e = await journeyEngine({ journeys: [checkout, nudge, twice] }, T0);
    await e.send([
      cart('match'),
      cart('other_cart'),
      cart('too_small'),
      cart('late_pay'),
      // The awaited event arrives in the same batch as the trigger, with a later timestamp.
      cart('same_batch'),
      paid('same_batch', T0 + 5 * MIN, 300),
      // An event before the trigger does not count.
      paid('before', T0 - 5 * MIN, 300, 'c-before'),
      cart('before'),
      track('browsed_bought', 'browse', T0),
      track('browsed_only', 'browse', T0),
      track('once', 'loyalty', T0),
      track('once', 'purchase', T0 + 5 * MIN),
      track('again', 'loyalty', T0),
    ]);
    await e.clock.advanceTo(T0 + 10 * MIN);
    await e.send([
      track('browsed_bought', 'purchase', T0 + 10 * MIN),
      track('again', 'purchase', T0 + 10 * MIN),
    ]);
    await e.clock.advanceTo(T0 + 15 * MIN);
    await e.send([track('again', 'purchase', T0 + 15 * MIN)]);
    await e.clock.advanceTo(T0 + 20 * MIN);
    await e.send([
      paid('match', T0 + 20 * MIN, 150),
      paid('other_cart', T0 + 20 * MIN, 150, 'c-match'),
      paid('too_small', T0 + 20 * MIN, 99),
    ]);
    await e.clock.advanceTo(T0 + 2 * HOUR);
    await e.send([paid('late_pay', T0 + 2 * HOUR, 150)]);
    await e.clock.advanceTo(T0 + DAY);
  });
  after(() => e.close());

  const timedOut = [
    '03-02 02:00 journey_entered via cart_add',
    '03-02 02:00 journey_step pay timer 2026-03-02T03:00:00.000Z',
    '03-02 03:00 journey_step pay timeout',
    '03-02 03:00 journey_step remind reached',
    '03-02 03:00 message_sent sandbox:remind sandbox',
    '03-02 03:00 journey_step reminded reached',
    '03-02 03:00 journey_exited reminded',
  ];

  it('the awaited event (where and match hold) takes the event branch at its time', async () => {
    assert.deepEqual(await e.timeline('match'), [
      '03-02 02:00 journey_entered via cart_add',
      '03-02 02:00 journey_step pay timer 2026-03-02T03:00:00.000Z',
      '03-02 02:20 journey_step pay event',
      '03-02 02:20 journey_step thanks reached',
      '03-02 02:20 message_sent sandbox:thanks sandbox',
      '03-02 02:20 journey_exited completed',
    ]);
  });

  it('another key (match), a failing where, or an event after the timeout: the timeout branch', async () => {
    assert.deepEqual(await e.timeline('other_cart'), timedOut);
    assert.deepEqual(await e.timeline('too_small'), timedOut);
    assert.deepEqual(await e.timeline('late_pay'), timedOut);
    assert.deepEqual(await e.timeline('before'), timedOut);
  });

  it('already happened: the event in the trigger batch with a later timestamp passes at once', async () => {
    assert.deepEqual(await e.timeline('same_batch'), [
      '03-02 02:00 journey_entered via cart_add',
      '03-02 02:00 journey_step pay timer 2026-03-02T03:00:00.000Z',
      '03-02 02:05 journey_step pay event',
      '03-02 02:05 journey_step thanks reached',
      '03-02 02:05 message_sent sandbox:thanks sandbox',
      '03-02 02:05 journey_exited completed',
    ]);
  });

  it('already happened since entry, before the user reached the waitFor: passed on arrival', async () => {
    assert.deepEqual(await e.timeline('browsed_bought'), [
      '03-02 02:00 journey_entered via browse',
      '03-02 02:00 journey_step settle timer 2026-03-02T02:30:00.000Z',
      '03-02 02:30 journey_step buy reached',
      '03-02 02:30 journey_step buy timer 2026-03-02T03:30:00.000Z',
      '03-02 02:30 journey_step buy event',
      '03-02 02:30 journey_step bought reached',
      '03-02 02:30 journey_exited bought',
    ]);
    assert.deepEqual(await e.timeline('browsed_only'), [
      '03-02 02:00 journey_entered via browse',
      '03-02 02:00 journey_step settle timer 2026-03-02T02:30:00.000Z',
      '03-02 02:30 journey_step buy reached',
      '03-02 02:30 journey_step buy timer 2026-03-02T03:30:00.000Z',
      '03-02 03:30 journey_step buy timeout',
      '03-02 03:30 journey_step remind reached',
      '03-02 03:30 message_sent sandbox:nudge sandbox',
      '03-02 03:30 journey_step reminded reached',
      '03-02 03:30 journey_exited reminded',
    ]);
  });

  it('an event passes one waitFor: a second waitFor on the same event needs another one', async () => {
    assert.deepEqual(await e.timeline('once'), [
      '03-02 02:00 journey_entered via loyalty',
      '03-02 02:00 journey_step first timer 2026-03-02T03:00:00.000Z',
      '03-02 02:05 journey_step first event',
      '03-02 02:05 journey_step second reached',
      '03-02 02:05 journey_step second timer 2026-03-02T03:05:00.000Z',
      '03-02 03:05 journey_step second timeout',
      '03-02 03:05 journey_step one reached',
      '03-02 03:05 journey_exited one purchase',
    ]);
    assert.deepEqual(await e.timeline('again'), [
      '03-02 02:00 journey_entered via loyalty',
      '03-02 02:00 journey_step first timer 2026-03-02T03:00:00.000Z',
      '03-02 02:10 journey_step first event',
      '03-02 02:10 journey_step second reached',
      '03-02 02:10 journey_step second timer 2026-03-02T03:10:00.000Z',
      '03-02 02:15 journey_step second event',
      '03-02 02:15 journey_step two reached',
      '03-02 02:15 journey_exited two purchases',
    ]);
  });
});

describe('step: branch', () => {
  let e: Engine;
  const tier = (value: string) => ({ fact: 'profile', path: '$.traits.tier', operator: 'equal', value });
  before(async () => {
    e = await journeyEngine(
      {
        journeys: [
          journey('tiers', 'signup', [
            {
              id: 'route',
              type: 'branch',
              branches: [
                { condition: tier('gold'), next: 'gold' },
                {
                  condition: { fact: 'profile', path: '$.traits.spend', operator: 'greaterThan', value: 0 },
                  next: 'spender',
                },
              ],
              else: 'basic',
            },
            { id: 'gold', type: 'exit', reason: 'gold' },
            { id: 'spender', type: 'exit', reason: 'spender' },
            { id: 'basic', type: 'exit', reason: 'basic' },
          ]),
        ],
      },
      T0,
    );
    await e.send([
      // Both conditions hold for Gil: the first wins.
      identify('gil', { tier: 'gold', spend: 10 }, T0 - MIN),
      identify('sam', { tier: 'silver', spend: 10 }, T0 - MIN),
      identify('bea', { tier: 'silver' }, T0 - MIN),
      ...['gil', 'sam', 'bea'].map((u) => track(u, 'signup', T0)),
    ]);
  });
  after(() => e.close());

  const path = (taken: number | 'else', step: string) => [
    '03-02 02:00 journey_entered via signup',
    `03-02 02:00 journey_step route branch ${taken}`,
    `03-02 02:00 journey_step ${step} reached`,
    `03-02 02:00 journey_exited ${step}`,
  ];

  it('the first matching branch wins; none matching takes else', async () => {
    assert.deepEqual(await e.timeline('gil'), path(0, 'gold'));
    assert.deepEqual(await e.timeline('sam'), path(1, 'spender'));
    assert.deepEqual(await e.timeline('bea'), path('else', 'basic'));
  });
});

describe('step: split', () => {
  let e: Engine;
  const USERS = Array.from({ length: 1000 }, (_, i) => `s${i}`);
  /** Each user's path (`A` / `B`) at each of their entries. */
  const paths = new Map<string, string[]>();
  before(async () => {
    e = await journeyEngine(
      {
        journeys: [
          journey(
            'ab',
            'signup',
            [
              {
                id: 'ab',
                type: 'split',
                paths: [
                  { weight: 70, next: 'a', name: 'A' },
                  { weight: 30, next: 'b', name: 'B' },
                ],
              },
              { id: 'a', type: 'exit', reason: 'A' },
              { id: 'b', type: 'exit', reason: 'B' },
            ],
            { entry: { reentry: 'afterExit' } },
          ),
        ],
      },
      T0,
    );
    await e.send(USERS.map((u) => track(u, 'signup', T0)));
    await e.clock.advanceTo(T0 + DAY);
    // The first hundred come back: a second enrollment.
    await e.send(USERS.slice(0, 100).map((u) => track(u, 'signup', T0 + DAY)));
    for (const u of USERS) {
      const log = await e.log(u);
      paths.set(
        u,
        log.filter((x) => x.properties?.action === 'split').map((x) => String(x.properties?.path)),
      );
    }
  });
  after(() => e.close());

  it("a user's timeline: the split names the path taken", async () => {
    const [path] = paths.get('s0')!;
    assert.deepEqual((await e.timeline('s0')).slice(0, 4), [
      '03-02 02:00 journey_entered via signup',
      `03-02 02:00 journey_step ab split ${path}`,
      `03-02 02:00 journey_step ${path.toLowerCase()} reached`,
      `03-02 02:00 journey_exited ${path}`,
    ]);
  });

  it('deterministic per user: the same user takes the same path on every entry', () => {
    for (const u of USERS.slice(0, 100)) {
      const taken = paths.get(u)!;
      assert.equal(taken.length, 2, u);
      assert.equal(taken[0], taken[1], u);
    }
  });

  it('over 1,000 users the 70/30 weights hold within 5 points', () => {
    const a = USERS.filter((u) => paths.get(u)![0] === 'A').length;
    const b = USERS.filter((u) => paths.get(u)![0] === 'B').length;
    assert.equal(a + b, 1000);
    assert.ok(a >= 650 && a <= 750, `A: ${a}`);
  });
});

describe('step: send', () => {
  let e: Engine;
  const offer = journey('offer', 'signup', [
    {
      id: 'offer',
      type: 'send',
      channel: 'sms',
      template: 'offer_plain',
      variants: [
        {
          condition: { fact: 'profile', path: '$.traits.tier', operator: 'equal', value: 'gold' },
          template: 'offer_gold',
        },
        {
          condition: { fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Shanghai' },
          template: 'offer_shanghai',
        },
      ],
      fallback: { channel: 'email', template: 'offer_email' },
    },
  ]);
  const quiet = (id: string, action: 'defer' | 'drop') =>
    journey(id, 'night_signup', [{ id: 'promo', type: 'send', channel: 'sandbox', template: id }], {
      policy: { quietHours: { start: '21:00', end: '08:00', action } },
    });
  const NIGHT = Date.parse('2026-03-02T14:00:00Z'); // 22:00 in Shanghai, 06:00 in Los Angeles
  before(async () => {
    e = await journeyEngine({ journeys: [offer, quiet('deferred', 'defer'), quiet('dropped', 'drop')] }, T0);
    const phone = (n: number) => ({ phone: `+86138000000${n}`, consent: { sms: true } });
    await e.send([
      identify('gold', { ...phone(1), tier: 'gold', city: 'Shanghai' }, T0 - MIN),
      identify('local', { ...phone(2), city: 'Shanghai' }, T0 - MIN),
      identify('plain', phone(3), T0 - MIN),
      identify('mailer', { email: 'm@example.com', consent: { email: true } }, T0 - MIN),
      ...['gold', 'local', 'plain', 'mailer'].map((u) => track(u, 'signup', T0)),
      // 10:00 in Shanghai (the workspace's zone): outside the quiet hours.
      track('plain', 'night_signup', T0),
    ]);
    await e.clock.advanceTo(NIGHT);
    await e.send([
      identify('sh', SHANGHAI, NIGHT - MIN),
      identify('la', LOS_ANGELES, NIGHT - MIN),
      track('sh', 'night_signup', NIGHT),
      track('la', 'night_signup', NIGHT),
    ]);
    await e.clock.advanceTo(NIGHT + DAY);
  });
  after(() => e.close());

  const sent = (line: string) => [
    '03-02 02:00 journey_entered via signup',
    `03-02 02:00 ${line}`,
    '03-02 02:00 journey_exited completed',
  ];

  it('content variants: the first matching condition picks the template', async () => {
    assert.deepEqual(await e.timeline('gold'), sent('message_sent sms:offer_gold sandbox'));
    assert.deepEqual(await e.timeline('local'), sent('message_sent sms:offer_shanghai sandbox'));
    assert.deepEqual(await e.timeline('plain', 'offer'), sent('message_sent sms:offer_plain sandbox'));
    const [, message] = await e.log('gold');
    assert.equal(message.properties?.variant, 0);
  });

  it('the fallback channel when the first one cannot reach the user', async () => {
    assert.deepEqual(await e.timeline('mailer'), sent('message_sent email:offer_email sandbox'));
  });

  it('skipped with the reason when no channel can reach the user (after 5 s for a trailing identify)', async () => {
    // Reachable by email, so they enter; the SMS step is the walk's to skip.
    const emailThenSms = journey('email_then_sms', 'signup', [
      { id: 'welcome', type: 'send', channel: 'email', template: 'offer_email' },
      { id: 'offer', type: 'send', channel: 'sms', template: 'offer_plain' },
    ]);
    const s = await journeyEngine({ journeys: [emailThenSms] }, T0);
    try {
      await s.send([
        identify(
          'refused',
          { phone: '+8613800000004', email: 'r@example.com', consent: { sms: false, email: true } },
          T0 - MIN,
        ),
        identify('nophone', { email: 'n@example.com', consent: { sms: true, email: true } }, T0 - MIN),
        ...['refused', 'nophone'].map((u) => track(u, 'signup', T0)),
      ]);
      await s.clock.advanceTo(T0 + HOUR);
      const skipped = (reason: string) => [
        '03-02 02:00 journey_entered via signup',
        '03-02 02:00 message_sent email:offer_email sandbox',
        '03-02 02:00 journey_step offer reached',
        '03-02 02:00 journey_step offer deferred 2026-03-02T02:00:05.000Z',
        `03-02 02:00 message_skipped sms:offer_plain ${reason}`,
        '03-02 02:00 journey_exited completed',
      ];
      assert.deepEqual(await s.timeline('refused'), skipped('no_consent'));
      assert.deepEqual(await s.timeline('nophone'), skipped('no_address'));
      const skip = (await s.log('nophone')).find((x) => x.event === 'message_skipped')!;
      assert.equal(new Date(skip.timestamp).toISOString(), '2026-03-02T02:00:05.000Z');
    } finally {
      await s.close();
    }
  });

  it("quiet hours, defer: sent when the window ends in the user's timezone", async () => {
    assert.deepEqual(await e.timeline('sh', 'deferred'), [
      '03-02 14:00 journey_entered via night_signup',
      '03-02 14:00 journey_step promo deferred 2026-03-03T00:00:00.000Z',
      '03-03 00:00 message_sent sandbox:deferred sandbox',
      '03-03 00:00 journey_exited completed',
    ]);
    assert.deepEqual(await e.timeline('la', 'deferred'), [
      '03-02 14:00 journey_entered via night_signup',
      '03-02 14:00 journey_step promo deferred 2026-03-02T16:00:00.000Z',
      '03-02 16:00 message_sent sandbox:deferred sandbox',
      '03-02 16:00 journey_exited completed',
    ]);
    const [, deferred] = await e.log('la', 'deferred');
    assert.equal(deferred.properties?.reason, 'quiet_hours');
  });

  it('quiet hours, drop: skipped with the reason quiet_hours', async () => {
    assert.deepEqual(await e.timeline('sh', 'dropped'), [
      '03-02 14:00 journey_entered via night_signup',
      '03-02 14:00 message_skipped sandbox:dropped quiet_hours',
      '03-02 14:00 journey_exited completed',
    ]);
  });

  it('outside quiet hours: sent at once', async () => {
    assert.deepEqual(await e.timeline('plain', 'deferred'), [
      '03-02 02:00 journey_entered via night_signup',
      '03-02 02:00 message_sent sandbox:deferred sandbox',
      '03-02 02:00 journey_exited completed',
    ]);
  });
});

describe('steps: tag, update, webhook, exit', () => {
  let e: Engine;
  const hasTag = (tag: string) => ({ fact: 'profile', path: '$.tags', operator: 'contains', value: tag });
  const vips: SegmentDefinition = { id: 'vips', version: 1, name: 'VIPs', condition: hasTag('vip') };
  const trialists: SegmentDefinition = {
    id: 'trialists',
    version: 1,
    name: 'Trial',
    condition: hasTag('trial'),
  };
  before(async () => {
    e = await journeyEngine(
      {
        segments: [vips, trialists],
        journeys: [
          journey('trial', 'trial_start', [{ id: 'mark', type: 'tag', add: ['trial'] }]),
          journey('upgrade', 'upgrade', [
            { id: 'settle', type: 'wait', duration: 'PT1H' },
            { id: 'mark', type: 'tag', add: ['vip'], remove: ['trial'] },
          ]),
          // Re-entry allowed: an entry decided twice would show.
          journey(
            'vip_welcome',
            'unused',
            [{ id: 'hello', type: 'send', channel: 'sandbox', template: 'vip_welcome' }],
            { trigger: { type: 'segment', segment: 'vips', on: 'entered' }, entry: { reentry: 'afterExit' } },
          ),
          journey(
            'trial_over',
            'unused',
            [{ id: 'bye', type: 'send', channel: 'sandbox', template: 'trial_over' }],
            {
              trigger: { type: 'segment', segment: 'trialists', on: 'exited' },
              entry: { reentry: 'afterExit' },
            },
          ),
          journey('onboard', 'signup', [
            { id: 'set', type: 'update', traits: { plan: 'basic', onboarded: true } },
            {
              id: 'route',
              type: 'branch',
              branches: [
                {
                  condition: { fact: 'profile', path: '$.traits.plan', operator: 'equal', value: 'basic' },
                  next: 'hook',
                },
              ],
              else: 'stop',
            },
            // Nothing listens on port 9: the call fails at once, and the user moves on.
            { id: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hooks/onboarded' },
            { id: 'stop', type: 'exit', reason: 'onboarded' },
            { id: 'never', type: 'send', channel: 'sandbox', template: 'never_sent' },
          ]),
        ],
      },
      T0,
    );
    await e.send([track('ann', 'trial_start', T0), track('ann', 'signup', T0)]);
    await e.clock.advanceTo(T0 + HOUR);
    await e.send([track('ann', 'upgrade', T0 + HOUR)]);
    await e.clock.advanceTo(T0 + DAY);
  });
  after(() => e.close());

  it('tag: adds a tag', async () => {
    assert.deepEqual(await e.timeline('ann', 'trial'), [
      '03-02 02:00 journey_entered via trial_start',
      '03-02 02:00 journey_step mark tag_added:trial',
      '03-02 02:00 journey_exited completed',
    ]);
  });

  it('tag: adds and removes (after a wait: on the timer)', async () => {
    assert.deepEqual(await e.timeline('ann', 'upgrade'), [
      '03-02 03:00 journey_entered via upgrade',
      '03-02 03:00 journey_step settle timer 2026-03-02T04:00:00.000Z',
      '03-02 04:00 journey_step mark reached',
      '03-02 04:00 journey_step mark tag_added:vip',
      '03-02 04:00 journey_step mark tag_removed:trial',
      '03-02 04:00 journey_exited completed',
    ]);
    assert.deepEqual((await traitsOf(e, 'ann')).tags, ['vip']);
  });

  it('segments reading the tags move the user, and journeys react to the moves once', async () => {
    const profile = await traitsOf(e, 'ann');
    assert.deepEqual(profile.segments, ['vips']);
    assert.deepEqual(await e.timeline('ann', 'vip_welcome'), [
      '03-02 04:00 journey_entered via segment_entered',
      '03-02 04:00 message_sent sandbox:vip_welcome sandbox',
      '03-02 04:00 journey_exited completed',
    ]);
    assert.deepEqual(await e.timeline('ann', 'trial_over'), [
      '03-02 04:00 journey_entered via segment_exited',
      '03-02 04:00 message_sent sandbox:trial_over sandbox',
      '03-02 04:00 journey_exited completed',
    ]);
  });

  it('update sets traits that the next steps read; a failed webhook is logged and passed; exit ends with its reason', async () => {
    assert.deepEqual(await e.timeline('ann', 'onboard'), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step set update',
      '03-02 02:00 journey_step route reached',
      '03-02 02:00 journey_step route branch 0',
      '03-02 02:00 journey_step hook reached',
      '03-02 02:00 journey_step hook webhook_failed',
      '03-02 02:00 journey_step stop reached',
      '03-02 02:00 journey_exited onboarded',
    ]);
    const failed = (await e.log('ann', 'onboard')).find((x) => x.properties?.action === 'webhook_failed');
    assert.equal(failed?.properties?.status, null);
    assert.match(String(failed?.properties?.error), /fetch failed|ECONNREFUSED/);
    const { traits } = await traitsOf(e, 'ann');
    assert.equal(traits.plan, 'basic');
    assert.equal(traits.onboarded, true);
  });
});
