import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import { journeyEngine } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z'); // 10:00 in Shanghai
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

const cartAbandonment: JourneyDefinition = {
  id: 'cart',
  version: 1,
  name: 'Cart abandonment',
  trigger: { type: 'event', event: 'cart_add' },
  entry: { reentry: 'afterExit' },
  exit: [{ event: 'order_paid' }],
  steps: [
    {
      id: 'wait_pay',
      type: 'waitFor',
      event: 'order_paid',
      match: 'properties.cartId',
      timeout: 'PT1H',
      onEvent: 'paid',
    },
    {
      id: 'sms',
      type: 'send',
      channel: 'sms',
      template: 'cart_sms',
      fallback: { channel: 'sandbox', template: 'cart_note' },
    },
    { id: 'day', type: 'wait', duration: 'P1D' },
    { id: 'coupon', type: 'send', channel: 'wechat', template: 'cart_coupon' },
    { id: 'done', type: 'exit', reason: 'reminded' },
    { id: 'paid', type: 'exit', reason: 'paid' },
  ],
};

const identify = (userId: string, traits: object, at = T0 - DAY) => ({
  type: 'identify',
  userId,
  traits,
  timestamp: iso(at),
});
const track = (userId: string, event: string, at: number, properties: object = {}) => ({
  type: 'track',
  userId,
  event,
  properties,
  timestamp: iso(at),
});

describe('journeys on a virtual clock: cart abandonment', () => {
  let e: Awaited<ReturnType<typeof journeyEngine>>;
  before(async () => {
    e = await journeyEngine({ journeys: [cartAbandonment] }, T0);
    await e.send([
      identify('ann', { phone: '+8613800000001', consent: { sms: true } }),
      identify('bob', { phone: '+8613800000002', consent: { sms: true } }),
      identify('cai', {}),
      track('ann', 'cart_add', T0, { cartId: 'c-ann' }),
      track('bob', 'cart_add', T0, { cartId: 'c-bob' }),
      track('cai', 'cart_add', T0, { cartId: 'c-cai' }),
    ]);
    await e.clock.advanceTo(T0 + 30 * MIN);
    // Bob pays his cart; Cai pays another cart, which is not the one awaited.
    await e.send([track('bob', 'order_paid', T0 + 30 * MIN, { cartId: 'c-bob', amount: 99 })]);
    await e.clock.advanceTo(T0 + 3 * DAY);
  });
  after(() => e.close());

  it('reminds after an hour, waits a day, sends the coupon and completes', async () => {
    assert.deepEqual(await e.timeline('ann'), [
      '03-02 02:00 journey_entered via cart_add',
      '03-02 02:00 journey_step wait_pay timer 2026-03-02T03:00:00.000Z',
      '03-02 03:00 journey_step wait_pay timeout',
      '03-02 03:00 journey_step sms reached',
      '03-02 03:00 message_sent sms:cart_sms sandbox',
      '03-02 03:00 journey_step day reached',
      '03-02 03:00 journey_step day timer 2026-03-03T03:00:00.000Z',
      '03-03 03:00 journey_step coupon reached',
      // No WeChat identity: the send waits 5 s for a trailing identify, then is skipped.
      '03-03 03:00 journey_step coupon deferred 2026-03-03T03:00:05.000Z',
      '03-03 03:00 message_skipped wechat:cart_coupon no_address',
      '03-03 03:00 journey_step done reached',
      '03-03 03:00 journey_exited reminded',
    ]);
  });

  it('takes the event branch when the awaited cart is paid within the hour', async () => {
    assert.deepEqual(await e.timeline('bob'), [
      '03-02 02:00 journey_entered via cart_add',
      '03-02 02:00 journey_step wait_pay timer 2026-03-02T03:00:00.000Z',
      '03-02 02:30 journey_step wait_pay event',
      '03-02 02:30 journey_step paid reached',
      '03-02 02:30 journey_exited paid',
    ]);
  });

  it('a user without a phone gets the fallback channel', async () => {
    const timeline = await e.timeline('cai');
    assert.equal(timeline[4], '03-02 03:00 message_sent sandbox:cart_note sandbox');
  });

  it('an exit event ends the enrollment wherever the user is, and the user can come back (afterExit)', async () => {
    await e.send([track('ann', 'cart_add', T0 + 3 * DAY, { cartId: 'c-ann-2' })]);
    await e.clock.advanceTo(T0 + 3 * DAY + 2 * HOUR);
    await e.send([track('ann', 'order_paid', T0 + 3 * DAY + 2 * HOUR, { cartId: 'other', amount: 5 })]);
    assert.deepEqual((await e.timeline('ann')).slice(12), [
      '03-05 02:00 journey_entered via cart_add',
      '03-05 02:00 journey_step wait_pay timer 2026-03-05T03:00:00.000Z',
      '03-05 03:00 journey_step wait_pay timeout',
      '03-05 03:00 journey_step sms reached',
      '03-05 03:00 message_sent sms:cart_sms sandbox',
      '03-05 03:00 journey_step day reached',
      '03-05 03:00 journey_step day timer 2026-03-06T03:00:00.000Z',
      '03-05 04:00 journey_exited event:order_paid',
    ]);
  });
});

it('journey conditions read aggregates that no segment reads: the workspace keeps them too', async () => {
  const buyerCheck: JourneyDefinition = {
    id: 'buyer_check',
    version: 1,
    name: 'Buyers and others',
    trigger: { type: 'event', event: 'app_opened' },
    steps: [
      {
        id: 'bought',
        type: 'branch',
        branches: [
          {
            condition: {
              fact: 'aggregate',
              params: { event: 'order_paid', fn: 'sum', property: 'amount', within: 'P30D' },
              operator: 'greaterThanInclusive',
              value: 100,
            },
            next: 'thanks',
          },
        ],
        else: 'nudge',
      },
      { id: 'thanks', type: 'send', channel: 'sandbox', template: 'thanks', next: 'end' },
      { id: 'nudge', type: 'send', channel: 'sandbox', template: 'nudge' },
      { id: 'end', type: 'exit', reason: 'done' },
    ],
  };
  const e = await journeyEngine({ journeys: [buyerCheck] }, T0);
  await e.send([
    track('big', 'order_paid', T0 - DAY, { amount: 60 }),
    track('big', 'order_paid', T0 - HOUR, { amount: 60 }),
    track('small', 'order_paid', T0 - HOUR, { amount: 60 }),
    track('big', 'app_opened', T0),
    track('small', 'app_opened', T0),
  ]);
  assert.ok((await e.timeline('big')).includes('03-02 02:00 message_sent sandbox:thanks sandbox'));
  assert.ok((await e.timeline('small')).includes('03-02 02:00 message_sent sandbox:nudge sandbox'));
  await e.close();
});

it('the global control group (profile buckets) enters no journey', async () => {
  const e = await journeyEngine({ journeys: [cartAbandonment], globalControl: { from: 0, to: 5000 } }, T0);
  const users = Array.from({ length: 200 }, (_, i) => `gc-${i}`);
  await e.send(users.map((u) => track(u, 'cart_add', T0, { cartId: u })));
  const entered = [];
  for (const u of users) if ((await e.timeline(u)).length > 0) entered.push(u);
  const profiles = await e.store.getProfiles(users.map((u) => `u:${u}`));
  for (const u of users) {
    const inControl = profiles.get(`u:${u}`)!.bucket < 5000;
    assert.equal(entered.includes(u), !inControl, `${u} (bucket ${profiles.get(`u:${u}`)!.bucket})`);
  }
  assert.ok(entered.length > 60 && entered.length < 140, `${entered.length} of 200 entered`);
  await e.close();
});

it('a trigger waits 5 s for an identify that trails it, so both arrival orders enter and send', async () => {
  const welcome: JourneyDefinition = {
    id: 'welcome',
    version: 1,
    name: 'Welcome',
    trigger: { type: 'event', event: 'signed_up' },
    steps: [{ id: 'mail', type: 'send', channel: 'email', template: 'welcome' }],
  };
  const signup = (anonymousId: string, at: number) => ({
    type: 'track',
    anonymousId,
    event: 'signed_up',
    timestamp: iso(at),
  });
  const known = (userId: string, anonymousId: string, at: number) => ({
    type: 'identify',
    userId,
    anonymousId,
    traits: { email: `${userId}@example.com`, consent: { email: true } },
    timestamp: iso(at),
  });
  const e = await journeyEngine({ journeys: [welcome] }, T0);
  // Identify first, then the track: the address is there at once.
  await e.send([known('first', 'anon-1', T0)]);
  await e.send([{ ...signup('anon-1', T0 + 500), userId: 'first' }]);
  // The track first (still anonymous), the identify a second later.
  await e.send([signup('anon-2', T0)]);
  await e.clock.advanceTo(T0 + 1000);
  await e.send([known('second', 'anon-2', T0 + 1000)]);
  await e.clock.advanceTo(T0 + HOUR);
  assert.ok((await e.timeline('first')).includes('03-02 02:00 message_sent email:welcome sandbox'));
  // Entered at the trigger's time, once the identify made the user reachable.
  assert.deepEqual(await e.timeline('second'), [
    '03-02 02:00 journey_entered via signed_up',
    '03-02 02:00 message_sent email:welcome sandbox',
    '03-02 02:00 journey_exited completed',
  ]);
  await e.close();
});

it('an exit event that arrives before its trigger (but happened after it) still ends the enrollment', async () => {
  const e = await journeyEngine({ journeys: [cartAbandonment] }, T0);
  await e.send([identify('eli', { phone: '+8613800000009', consent: { sms: true } })]);
  // Paid for another cart a second after adding this one; the payment arrives first.
  await e.send([track('eli', 'order_paid', T0 + 1000, { cartId: 'other', amount: 10 })]);
  await e.send([track('eli', 'cart_add', T0, { cartId: 'c-eli' })]);
  await e.clock.advanceTo(T0 + DAY);
  assert.deepEqual(await e.timeline('eli'), [
    '03-02 02:00 journey_entered via cart_add',
    '03-02 02:00 journey_step wait_pay timer 2026-03-02T03:00:00.000Z',
    '03-02 02:00 journey_exited event:order_paid',
  ]);
  await e.close();
});
