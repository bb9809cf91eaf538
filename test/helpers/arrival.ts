/**
 * One generated stream, delivered to the engine in different ways on a virtual clock, and what the
 * engine decided from it, in a form that can be compared between deliveries (for the arrival
 * differential test, test/engine/arrival.test.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE, IngestBuffer } from '../../engine/ingest/ingest-queue.ts';
import { QueuePartitions } from '../../engine/queue-partitions.ts';
import { IMPORT_JOB, IMPORT_QUEUE } from '../../engine/jobs/import.ts';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { JOURNEY_SCHEDULE_JOB, JOURNEY_SCHEDULE_QUEUE } from '../../engine/jobs/journey-schedule.ts';
import { VALUE_MODEL_JOB, VALUE_MODEL_QUEUE } from '../../engine/jobs/value-model.ts';
import { startWorker } from '../../engine/worker.ts';
import { readCounterDays } from '../../conversions/counters.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import type { JsonObject } from '../../model/json.ts';
import { silentLogger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import { Workspace, type WorkspaceDefinitions } from '../../workspace/workspace.ts';
import { prng } from '../../dev/random.ts';
import { sendsTo } from './sends.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Where the stream starts: early 2026, so the US moves its clocks (8 March) in the middle of it. */
export const STREAM_START = Date.parse('2026-02-02T00:00:00Z');

// ---------------------------------------------------------------------------------------------
// The workspace: every trigger and step kind, exits on events and segments, goals with revenue,
// a holdout, the lifecycle, segments changing with events and with time alone, a value model.

const segments: SegmentDefinition[] = [
  {
    id: 'big_spenders',
    version: 1,
    name: 'Big spenders',
    tag: 'big',
    condition: {
      fact: 'aggregate',
      params: { event: 'order_paid', fn: 'sum', property: 'amount' },
      operator: 'greaterThanInclusive',
      value: 300,
    },
  },
  {
    id: 'buyers',
    version: 1,
    name: 'Bought in the last 30 days',
    condition: {
      fact: 'aggregate',
      params: { event: 'order_paid', fn: 'count', within: 'P30D' },
      operator: 'greaterThanInclusive',
      value: 1,
    },
  },
  {
    id: 'recent_viewers',
    version: 1,
    name: 'Viewed a product in the last 3 days',
    condition: {
      fact: 'lastEventAt',
      params: { event: 'product_viewed' },
      operator: 'withinLast',
      value: 'P3D',
    },
  },
  {
    id: 'vip_tier',
    version: 1,
    name: 'High value',
    condition: { fact: 'profile', path: '$.traits.value_tier', operator: 'equal', value: 'high' },
  },
];

const orderGoal = { event: 'order_paid', within: 'P7D', revenue: 'amount', orderId: 'properties.orderId' };

function journeys(webhookUrl: string): JourneyDefinition[] {
  return [
    {
      id: 'cart',
      version: 1,
      name: 'Abandoned cart',
      trigger: { type: 'event', event: 'cart_add' },
      entry: { reentry: 'afterExit' },
      exit: [{ event: 'cart_cleared' }],
      goal: orderGoal,
      holdout: { percent: 20 },
      policy: { quietHours: { start: '22:00', end: '08:00', action: 'defer' } },
      steps: [
        { id: 'settle', type: 'wait', duration: 'PT1H' },
        {
          id: 'checkout',
          type: 'waitFor',
          event: 'checkout_started',
          match: 'properties.cartId',
          timeout: 'PT6H',
          onEvent: 'pay',
          onTimeout: 'plan',
        },
        {
          id: 'plan',
          type: 'branch',
          branches: [
            {
              condition: { fact: 'profile', path: '$.traits.plan', operator: 'equal', value: 'pro' },
              next: 'mail',
            },
          ],
          else: 'ab',
        },
        {
          id: 'ab',
          type: 'split',
          paths: [
            { weight: 1, next: 'mail', name: 'mail' },
            { weight: 1, next: 'text', name: 'text' },
          ],
        },
        { id: 'mail', type: 'send', channel: 'email', template: 'cart_mail', next: 'mark' },
        {
          id: 'text',
          type: 'send',
          channel: 'sms',
          template: 'cart_sms',
          fallback: { channel: 'email', template: 'cart_mail' },
          next: 'mark',
        },
        { id: 'mark', type: 'tag', add: ['cart_reminded'], next: 'done' },
        {
          id: 'pay',
          type: 'waitFor',
          event: 'order_paid',
          match: 'properties.cartId',
          timeout: 'PT2H',
          onEvent: 'done',
          onTimeout: 'pay_nudge',
        },
        { id: 'pay_nudge', type: 'send', channel: 'email', template: 'pay_nudge', next: 'done' },
        { id: 'done', type: 'exit', reason: 'finished' },
      ],
    },
    {
      id: 'welcome_big',
      version: 1,
      name: 'Welcome, big spender',
      trigger: { type: 'segment', segment: 'big_spenders', on: 'entered' },
      exit: [{ segment: 'buyers', on: 'exited' }],
      goal: { segment: 'buyers', within: 'P7D' },
      steps: [
        { id: 'flag', type: 'update', traits: { big_spender: true } },
        {
          id: 'loyalty',
          type: 'webhook',
          url: webhookUrl,
          body: { hello: 'big spender' },
          setTraits: { loyalty: '$.level' },
        },
        { id: 'later', type: 'wait', duration: 'P1D' },
        { id: 'thanks', type: 'send', channel: 'email', template: 'thanks' },
      ],
    },
    {
      id: 'winback',
      version: 1,
      name: 'Win-back',
      trigger: { type: 'lifecycle', to: 'dormant' },
      exit: [{ segment: 'buyers', on: 'entered' }],
      goal: orderGoal,
      steps: [
        { id: 'miss_you', type: 'send', channel: 'sms', template: 'miss_you' },
        { id: 'morning', type: 'wait', until: { time: '09:00' } },
        { id: 'coupon', type: 'send', channel: 'email', template: 'coupon' },
      ],
    },
    {
      id: 'vip',
      version: 1,
      name: 'VIP',
      trigger: { type: 'segment', segment: 'vip_tier', on: 'entered' },
      steps: [{ id: 'vip_note', type: 'send', channel: 'email', template: 'vip' }],
    },
    {
      id: 'weekly',
      version: 1,
      name: 'Weekly digest',
      trigger: { type: 'schedule', cron: '0 10 * * 1', tz: 'Asia/Shanghai' },
      audience: { segment: 'recent_viewers' },
      steps: [{ id: 'digest', type: 'send', channel: 'email', template: 'digest' }],
    },
  ];
}

export function workspaceDefinitions(webhookUrl: string): WorkspaceDefinitions {
  return {
    segments,
    journeys: journeys(webhookUrl),
    valueModel: {
      id: 'value-model',
      version: 1,
      schedule: { cron: '0 3 * * *', tz: 'Asia/Shanghai' },
      orderEvent: 'order_paid',
      amountProperty: 'amount',
      window: 'P365D',
    },
  };
}

/** A loyalty service for the webhook step: answers every call the same way. */
export async function loyaltyService(): Promise<{
  url: string;
  calls: () => number;
  close(): Promise<void>;
}> {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    calls++;
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ level: 'gold' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/loyalty`,
    calls: () => calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------
// The stream: users in two timezones, sessions separated by gaps (some long enough to go dormant),
// carts that are paid, abandoned or cleared, anonymous visits linked by a later identify, and
// messages posted twice.

export type Message = JsonObject & { timestamp: string; messageId: string };

export function generateStream(seed: number, users = 30, days = 50): Message[] {
  const rand = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const chance = (p: number) => rand() < p;
  const iso = (ms: number) => new Date(ms).toISOString();
  const out: Message[] = [];
  const end = STREAM_START + days * DAY;
  for (let u = 0; u < users; u++) {
    const userId = `au-${u}`;
    let n = 0;
    const id = () => `${seed}-${u}-${n++}`;
    const push = (m: JsonObject, at: number) => {
      // Whole seconds: ties at one instant happen.
      const message = { ...m, messageId: id(), timestamp: iso(Math.floor(at / 1000) * 1000) } as Message;
      out.push(message);
      if (chance(0.03)) out.push({ ...message });
    };
    let t = STREAM_START + int(0, 10 * 24) * HOUR + int(0, 3599) * 1000;
    const anonymousId = chance(0.3) ? `aa-${u}` : null;
    if (anonymousId) {
      for (let k = int(1, 3); k > 0; k--) {
        push({ type: 'page', anonymousId, name: 'landing' }, t);
        t += int(1, 120) * 1000;
      }
    }
    const traits: JsonObject = {
      email: `${userId}@example.com`,
      plan: chance(0.3) ? 'pro' : 'free',
      timezone: chance(0.5) ? 'Asia/Shanghai' : 'America/New_York',
      consent: { email: chance(0.8), sms: chance(0.6) },
    };
    if (chance(0.7)) traits.phone = `+86138${String(10_000_000 + u).slice(-8)}`;
    push({ type: 'identify', userId, ...(anonymousId ? { anonymousId } : {}), traits }, t);
    let cart = 0;
    const pay = (cartId: string) =>
      push(
        {
          type: 'track',
          userId,
          event: 'order_paid',
          properties: { cartId, orderId: `o-${cartId}`, amount: int(30, 500) },
        },
        t,
      );
    while (t < end) {
      // A session: views, maybe a cart, maybe a checkout, maybe an order.
      for (let k = int(1, 4); k > 0; k--) {
        t += int(5, 600) * 1000;
        push({ type: 'track', userId, event: 'product_viewed', properties: { sku: `s${int(1, 9)}` } }, t);
      }
      if (chance(0.6)) {
        const cartId = `c-${u}-${cart++}`;
        t += int(10, 900) * 1000;
        push({ type: 'track', userId, event: 'cart_add', properties: { cartId, amount: int(20, 400) } }, t);
        const fate = rand();
        if (fate < 0.35) {
          t += int(1, 9 * 60) * MINUTE;
          push({ type: 'track', userId, event: 'checkout_started', properties: { cartId } }, t);
          if (chance(0.7)) {
            t += int(1, 180) * MINUTE;
            pay(cartId);
          }
        } else if (fate < 0.5) {
          t += int(1, 90) * MINUTE;
          push({ type: 'track', userId, event: 'cart_cleared', properties: { cartId } }, t);
        } else if (fate < 0.6) {
          // Paid days later, outside any reminder's waits.
          t += int(1, 6) * DAY;
          pay(cartId);
        }
      }
      if (chance(0.1)) push({ type: 'identify', userId, traits: { plan: chance(0.5) ? 'pro' : 'free' } }, t);
      // The gap to the next session: mostly hours or days, sometimes long enough to go dormant.
      t += chance(0.08) ? int(31, 40) * DAY : chance(0.5) ? int(2, 30) * HOUR : int(1, 6) * DAY;
    }
  }
  // Arrival follows event time (stable: a message posted twice arrives twice in a row).
  return out
    .map((m, i) => ({ m, i }))
    .sort((a, b) => Date.parse(a.m.timestamp) - Date.parse(b.m.timestamp) || a.i - b.i)
    .map(({ m }) => m)
    .filter((m) => Date.parse(m.timestamp) <= end);
}

// ---------------------------------------------------------------------------------------------
// Deliveries and what they decided.

/** A request: its messages, posted when `at` comes (the clock of the engine). */
export interface Delivery {
  at: number;
  messages: Message[];
  /**
   * The timers due since the last request run after this one, late, as behind a worker that lags;
   * otherwise each runs when it falls due.
   */
  timersLag?: boolean;
  /** Posted to the import API instead: history up to this time, later messages live. */
  importUntil?: number;
}

/** Each message alone, when it happened. */
export const oneByOne = (stream: readonly Message[]): Delivery[] =>
  stream.map((m) => ({ at: Date.parse(m.timestamp), messages: [m] }));

/** As the simulator replays a stream: messages within a minute of each other together, when the last happened. */
export function simulatorChunks(stream: readonly Message[]): Delivery[] {
  const out: Delivery[] = [];
  for (let i = 0; i < stream.length;) {
    const first = Date.parse(stream[i].timestamp);
    let j = i + 1;
    while (j < stream.length && j - i < 500 && Date.parse(stream[j].timestamp) - first < MINUTE) j++;
    out.push({ at: Date.parse(stream[j - 1].timestamp), messages: stream.slice(i, j) });
    i = j;
  }
  return out;
}

/** In `n` requests of about equal size, each posted when its last message happened (timers lag, as in `randomBatches`). */
export function inRequests(stream: readonly Message[], n: number): Delivery[] {
  const size = Math.ceil(stream.length / n);
  const out: Delivery[] = [];
  for (let i = 0; i < stream.length; i += size) {
    const messages = stream.slice(i, i + size);
    out.push({ at: Date.parse(messages.at(-1)!.timestamp), messages, timersLag: true });
  }
  return out;
}

/** The stream through the import API at `at`: history up to `until` (default: all of it). */
export const imported = (stream: readonly Message[], at: number, until = at): Delivery[] => [
  { at, messages: [...stream], importUntil: until },
];

/**
 * Batches of 1 to `max` messages (small ones more often), each posted when its last message happened.
 * The timers due meanwhile run after it: a timer that fired before the request could not have seen
 * the earlier messages in it (that is a late arrival, not a batch), so each decision takes a batch
 * and the timers due by then on one time line.
 */
export function randomBatches(stream: readonly Message[], seed: number, max = 500): Delivery[] {
  const rand = prng(seed ^ 0x5eed);
  const out: Delivery[] = [];
  for (let i = 0; i < stream.length;) {
    const size = Math.max(1, Math.min(max, Math.floor(Math.exp(rand() * Math.log(max + 1)))));
    const messages = stream.slice(i, i + size);
    out.push({ at: Date.parse(messages.at(-1)!.timestamp), messages, timersLag: true });
    i += size;
  }
  return out;
}

/** The whole stream back-filled in one request, posted `after` its last message. */
export const backFill = (stream: readonly Message[], after = HOUR): Delivery[] => [
  { at: Date.parse(stream.at(-1)!.timestamp) + after, messages: [...stream] },
];

export interface Decided {
  /** Per profile key: the engine's own events (journey log, sends and their outcomes, segment and
   * lifecycle moves, tags), without arrival-dependent fields; and the profile's end state. */
  profiles: Record<string, { events: string[]; state: JsonObject }>;
  /** Report counters per journey, by day. */
  counters: Record<string, Record<string, number>[]>;
}

export interface RunOptions {
  store: Store;
  deliveries: readonly Delivery[];
  /** After the last delivery: the clock runs to here, the value model and a weekly firing run. */
  end: number;
  webhookUrl: string;
  lateGraceMs: number;
  /** Keys of the profiles to read back (the store is not scanned: it may hold other tests' keys). */
  keys: readonly string[];
  /** Another workspace than the generated stream's. */
  workspace?: Workspace;
  /** Scheduled work (the value model, the weekly journey) runs at the end (default: yes). */
  scheduled?: boolean;
  /**
   * Live requests go through the API's ingest buffer, split over this many queue partitions, and
   * users' timers go to their partitions (default: one queue each, the request as one job).
   */
  partitions?: number;
}

/** Delivers the stream on a virtual clock through the real ingestion path, then reads what was decided. */
export async function deliver(options: RunOptions): Promise<Decided> {
  const clock = new VirtualClock(Math.min(options.deliveries[0].at, STREAM_START));
  const scheduler = new InProcessScheduler({ clock });
  const workspace =
    options.workspace ??
    new Workspace({ ...workspaceDefinitions(options.webhookUrl), timezone: 'Asia/Shanghai' });
  const partitions = options.partitions === undefined ? undefined : new QueuePartitions(options.partitions);
  startWorker(
    scheduler,
    options.store,
    {
      lateGraceMs: options.lateGraceMs,
      concurrency: 1,
      workspace: () => workspace,
      now: () => clock.now(),
      ...sendsTo(),
      ...(partitions ? { partitions } : {}),
    },
    silentLogger,
  );
  const buffer =
    partitions && new IngestBuffer(scheduler, { maxMessages: 500, maxWaitMs: 0 }, undefined, partitions);
  try {
    for (const d of options.deliveries) {
      // A timer due at the very instant of a message fires after it (a tie goes to the event).
      if (!d.timersLag) await clock.advanceTo(Math.max(clock.now(), d.at - 1));
      clock.jumpTo(d.at);
      const messages = parseBatch({ batch: d.messages }, clock.now());
      if (d.importUntil === undefined) {
        if (buffer) await buffer.accept(messages);
        else await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages });
      } else {
        // As the import API takes it: history counts as received when it happened.
        for (const m of messages) if (m.timestamp <= d.importUntil) m.receivedAt = m.timestamp;
        await scheduler.add(IMPORT_QUEUE, IMPORT_JOB, { messages, until: d.importUntil });
      }
      await clock.advance(0);
    }
    await clock.advanceTo(options.end);
    if (options.scheduled ?? true) {
      // Jobs that run on a schedule run once, at the same instant for every delivery.
      await scheduler.add(VALUE_MODEL_QUEUE, VALUE_MODEL_JOB, {});
      await scheduler.add(JOURNEY_SCHEDULE_QUEUE, JOURNEY_SCHEDULE_JOB, { journeyId: 'weekly' });
      await clock.advance(0);
      await clock.advanceTo(options.end + 2 * DAY);
    }
    return await decided(options.store, workspace, options.keys, STREAM_START, clock.now());
  } finally {
    await scheduler.close();
  }
}

/** Fields that say how or when a decision was processed, not what was decided. */
const ARRIVAL = new Set(['receivedAt', 'seq', 'late']);

async function decided(
  store: Store,
  workspace: Workspace,
  keys: readonly string[],
  from: number,
  to: number,
): Promise<Decided> {
  const profiles: Decided['profiles'] = {};
  const read = await store.getProfiles(keys);
  for (const key of keys) {
    const profile = read.get(key);
    if (!profile) continue;
    const events = (await store.recentEvents(key, 100_000))
      .filter((e) => e.type === 'internal')
      .map((e) => {
        const kept = Object.fromEntries(Object.entries(e).filter(([k]) => !ARRIVAL.has(k)));
        const properties = Object.fromEntries(
          Object.entries(e.properties ?? {}).filter(([k]) => !ARRIVAL.has(k)),
        );
        return JSON.stringify({ ...kept, properties });
      })
      .sort();
    profiles[key] = {
      events,
      state: {
        traits: profile.traits,
        tags: profile.tags,
        segments: [...profile.segments].sort(),
        lifecycle: profile.lifecycle ?? null,
        activity: (profile.activity ?? null) as unknown as JsonObject,
        journeys: (profile.journeys ?? {}) as unknown as JsonObject,
      },
    } as Decided['profiles'][string];
  }
  const counters: Decided['counters'] = {};
  for (const journeyId of [...workspace.journeys.live.map((j) => j.id), null]) {
    const days = await readCounterDays(store, journeyId, from, to);
    // A counter moved back to 0 reads as none (Redis keeps the field, the memory store drops it).
    counters[journeyId ?? 'workspace'] = days.map((day) =>
      Object.fromEntries([...day].filter(([, n]) => n !== 0).sort()),
    );
  }
  return { profiles, counters };
}

/** Profile keys of a stream's users (and of anonymous visitors never linked, if any). */
export const userKeys = (stream: readonly Message[]): string[] =>
  [...new Set(stream.map((m) => (m.userId ? `u:${String(m.userId)}` : `a:${String(m.anonymousId)}`)))].sort();

export const MEMORY_STORE = () =>
  new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 400 * DAY });
