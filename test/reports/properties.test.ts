/**
 * Properties of attribution on generated streams (seeded): whatever the arrival order (triggers and
 * goal events up to 20 hours late), re-entries with overlapping windows and repeated order events,
 * - no enrollment is counted as converted twice, and the conversions are exactly the enrollments with
 *   a goal event inside their window;
 * - no holdout user and no user of the global control group is handed a message; the control group's
 *   held entries convert by the same rule;
 * - revenue is the sum over distinct orders inside a window of the user's enrollments.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { readCounterDays } from '../../conversions/counters.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import { journeyBucket } from '../../journeys/enrollment.ts';
import { prng } from '../../dev/random.ts';
import { journey, journeyEngine, track } from '../journeys/helpers.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.parse('2026-03-01T00:00:00Z');
const WITHIN = 7 * DAY;
/** Profile buckets below this are the workspace's global control group (20 %). */
const CONTROL = 2000;

const definition = journey(
  'prop',
  'cart_add',
  [
    { id: 'nudge', type: 'send', channel: 'sandbox', template: 'note' },
    { id: 'pause', type: 'wait', duration: 'P2D' },
    { id: 'again', type: 'send', channel: 'sandbox', template: 'note' },
  ],
  {
    entry: { reentry: 'afterExit' },
    goal: { event: 'order_paid', within: 'P7D', revenue: 'amount' },
    holdout: { percent: 30 },
  },
);

interface Order {
  user: string;
  id: string;
  at: number;
  cents: number;
}

function generate(seed: number) {
  const random = prng(seed);
  const users = Array.from({ length: 24 }, (_, i) => `p${seed}-${i}`);
  const calls: { at: number; arrives: number; call: object }[] = [];
  const orders: Order[] = [];
  for (const user of users) {
    let at = START + Math.floor(random() * DAY);
    for (let n = 0; n < 6; n++) {
      at += Math.floor(random() * 3 * DAY);
      // Some triggers arrive late too, after the order they led to.
      const lateTrigger = random() < 0.2 ? Math.floor(random() * 20 * HOUR) : 0;
      calls.push({ at, arrives: at + lateTrigger, call: track(user, 'cart_add', at) });
      // A third buy within hours (often before a late trigger arrives), the others within 9 days.
      const paid = at + Math.floor(random() * (random() < 0.3 ? 3 * HOUR : 9 * DAY));
      const id = `${user}-o${Math.floor(random() * 4)}`; // ids repeat: the same order posted again
      const cents = orders.find((o) => o.id === id)?.cents ?? 100 + Math.floor(random() * 90_000);
      orders.push({ user, id, at: paid, cents });
      const late = random() < 0.3 ? Math.floor(random() * 20 * HOUR) : 0;
      calls.push({
        at: paid,
        arrives: paid + late,
        call: track(user, 'order_paid', paid, { orderId: id, amount: cents / 100 }),
      });
    }
  }
  calls.sort((a, b) => a.arrives - b.arrives);
  return { users, calls, orders };
}

for (const seed of [11, 23, 37]) {
  it(`attributes stream ${seed} by the rules, whatever the arrival order`, async () => {
    const { users, calls, orders } = generate(seed);
    const handed = new Set<string>();
    const gateway: ChannelGateway = {
      send: async ({ profile }) => {
        handed.add(profile.key);
        return { status: 'sent' };
      },
    };
    const e = await journeyEngine(
      {
        journeys: [definition],
        templates: [{ id: 'note', version: 1, name: 'n', channel: 'sandbox', content: { text: 'hi' } }],
        globalControl: { from: 0, to: CONTROL },
      },
      START,
      { gateway },
    );
    try {
      for (const { arrives, call } of calls) {
        await e.clock.advanceTo(Math.max(e.clock.now(), arrives));
        await e.send([call]);
      }
      await e.clock.advanceTo(calls[calls.length - 1].arrives + 10 * DAY);

      let converted = 0;
      let cents = 0;
      let controlled = 0;
      for (const user of users) {
        // Enrollments, and the entries the global control group was held from: the same rule for both.
        const entries = (await e.store.recentEvents(`u:${user}`, 1000))
          .filter((l) => l.event === 'journey_entered' || l.event === 'journey_held')
          .map((l) => l.timestamp)
          .sort((a, b) => a - b);
        const mine = orders.filter((o) => o.user === user);
        const inside = (o: Order, t: number) => o.at >= t && o.at <= t + WITHIN;
        converted += entries.filter((t) => mine.some((o) => inside(o, t))).length;
        const counted = new Map<string, number>();
        for (const o of mine) if (entries.some((t) => inside(o, t))) counted.set(o.id, o.cents);
        for (const c of counted.values()) cents += c;
        const held = journeyBucket('prop', `u:${user}`) < 3000;
        if (held) assert.ok(!handed.has(`u:${user}`), `holdout user ${user} was handed a message`);
        const profile = (await e.store.getProfiles([`u:${user}`])).get(`u:${user}`)!;
        if (profile.bucket < CONTROL) {
          controlled++;
          assert.ok(!handed.has(`u:${user}`), `global control user ${user} was handed a message`);
        }
      }
      assert.ok(handed.size > 0 && converted > 0, 'the stream exercises sends and conversions');
      assert.ok(controlled > 0, 'the stream has global control users');

      const days = await readCounterDays(e.store, 'prop', START, e.clock.now());
      const counters = days.flatMap((day) => [...day]);
      const sum = (metric: string) =>
        [...counters].filter(([f]) => f.startsWith(`${metric}|`)).reduce((s, [, n]) => s + n, 0);
      assert.equal(sum('c'), converted, 'converted enrollments');
      assert.equal(sum('re'), cents, 'revenue over distinct orders (by cohort)');
      assert.equal(sum('rd'), cents, 'revenue over distinct orders (by order date)');
      for (const [f, n] of counters) assert.ok(n >= 0, `${f} is ${n}`);
      // Each remaining window holds at most one conversion.
      for (const user of users) {
        const profile = (await e.store.getProfiles([`u:${user}`])).get(`u:${user}`);
        for (const w of profile?.conversions ?? []) {
          const c = Object.values(w.counted)
            .flatMap((fields) => Object.entries(fields))
            .filter(([f]) => f.startsWith('c|'));
          assert.ok(c.reduce((s, [, n]) => s + n, 0) <= 1, `${w.enrollmentId} counted twice`);
        }
      }
    } finally {
      await e.close();
    }
  });
}
