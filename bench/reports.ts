/**
 * bench/reports: how long a journey report takes once a journey has sent `--messages` messages and
 * counted `--conversions` conversions, in the memory store. Usage:
 *   npm run bench:reports -- [--runs 5] [--messages 1000000] [--conversions 100000] [--days 90]
 *     [--store memory|redis] [--cluster]
 *
 * The counters are built by the engine's own code (conversions: the journey log counts and
 * attribution) from synthetic enrollments spread over `--days` days: two versions, a send, a wait, a
 * branch to SMS or email with two content variants, a last push; 10 % holdout; receipts, clicks and
 * goal events with revenue. They are committed to the store (memory, or Redis under a prefix of its
 * own, removed at the end; one counter scope per journey and day), then each run asks for the journey
 * report (30-day and whole-range) both in process (store read + assembly) and over HTTP (the API's
 * route, JSON). The figure is the median over runs. Progress on stderr, the table on stdout.
 *
 * `--cluster`: the Redis store on a Redis Cluster (REDIS_CLUSTER_NODES, or the local one of
 * dev/redis-cluster.ts), in its 1024 buckets: the counters are committed by profiles spread over every
 * bucket, folded once by a first read, and before each timed report a few more counts are committed in
 * every bucket (as live traffic does), so each report also pays the fold of what changed since the last.
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DateTime } from 'luxon';
import { createApp } from '../api/app.ts';
import { KeyRing } from '../api/auth.ts';
import { MemoryDefinitionStore } from '../engine/adapters/definitions/memory.ts';
import { InProcessScheduler } from '../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../engine/adapters/stores/memory.ts';
import { reportCounts } from '../conversions/attribution.ts';
import { readCounterDays } from '../conversions/counters.ts';
import { readJourneyCounters, readLastTouchCounters } from '../reports/read.ts';
import type { StoredEvent } from '../model/events.ts';
import { SystemClock } from '../engine/clock.ts';
import { silentLogger } from '../ports/logger.ts';
import { addCount, type Store } from '../ports/store.ts';
import { logEntry } from '../journeys/enrollment.ts';
import type { JourneyDefinition } from '../journeys/journey.ts';
import { journeyReport } from '../reports/journey-report.ts';
import { Workspace } from '../workspace/workspace.ts';
import { createCommit, makeProfile, updateCommit } from '../dev/profiles.ts';
import { removeKeys, uniquePrefix } from '../dev/processes.ts';
import { Redis } from 'ioredis';
import { connectRedis, type RedisClient } from '../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../engine/adapters/redis-slots.ts';
import { localCluster } from '../dev/redis-cluster.ts';
import { RedisStore } from '../engine/adapters/stores/redis.ts';
import { prng } from '../dev/random.ts';
import { fmt, log, median } from './stats.ts';
import type { Counts } from '../model/conversions.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    messages: { type: 'string', default: '1000000' },
    conversions: { type: 'string', default: '100000' },
    days: { type: 'string', default: '90' },
    store: { type: 'string', default: 'memory' },
    cluster: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const messages = Number(values.messages);
const conversions = Number(values.conversions);
const days = Number(values.days);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const END = Date.parse('2026-11-01T00:00:00Z');
const START = END - days * DAY;

const journey = (version: number): JourneyDefinition => ({
  id: 'bench_report',
  version,
  name: 'Bench: cart recovery',
  trigger: { type: 'event', event: 'cart_add' },
  goal: { event: 'order_paid', within: 'P7D', revenue: 'amount' },
  holdout: { percent: 10 },
  steps: [
    { id: 'first_push', type: 'send', channel: 'push', template: 'push_a' },
    { id: 'wait', type: 'wait', duration: 'PT4H' },
    {
      id: 'has_phone',
      type: 'branch',
      branches: [
        {
          condition: {
            all: [{ fact: 'profile', path: '$.traits.phone', operator: 'notEqual', value: null }],
          },
          next: 'sms',
        },
      ],
      else: 'email',
    },
    {
      id: 'sms',
      type: 'send',
      channel: 'sms',
      template: 'sms_a',
      variants: [{ condition: { all: [] }, template: 'sms_b' }],
      next: 'last',
    },
    { id: 'email', type: 'send', channel: 'email', template: 'email_a', next: 'last' },
    { id: 'last', type: 'send', channel: 'push', template: 'push_b' },
  ],
});

/** The counters of `enrollments` synthetic enrollments, through the engine's counting code. */
function buildCounters(workspace: Workspace): Counts {
  const random = prng(7);
  const total: Counts = {};
  const enrollments = Math.ceil(messages / 3);
  const convertEvery = enrollments / conversions;
  let converted = 0;
  const started = performance.now();
  for (let i = 0; i < enrollments; i++) {
    const profile = makeProfile(`u:b${i}`);
    const enteredAt = START + Math.floor(random() * (days - 7) * DAY);
    // Version 2 was published a third of the way in.
    const version = enteredAt < START + (days * DAY) / 3 ? 1 : 2;
    const holdout = random() < 0.1;
    const enrollmentId = `bench_report:m${i}`;
    const place = (step: string) => ({ journeyId: 'bench_report', version, enrollmentId, step });
    const events: StoredEvent[] = [];
    const entry = (
      name: Parameters<typeof logEntry>[1],
      step: string,
      at: number,
      details: Record<string, string | number | boolean>,
    ) => events.push(logEntry(profile, name, place(step), [enrollmentId, step, name, at], at, at, details));
    entry('journey_entered', 'first_push', enteredAt, { holdout });
    const viaSms = random() < 0.6;
    const sends: [string, string, string, number][] = [
      ['first_push', 'push', 'push_a', enteredAt],
      viaSms
        ? ['sms', 'sms', random() < 0.5 ? 'sms_a' : 'sms_b', enteredAt + 4 * HOUR]
        : ['email', 'email', 'email_a', enteredAt + 4 * HOUR],
      ['last', 'push', 'push_b', enteredAt + 4 * HOUR],
    ];
    entry('journey_step', 'wait', enteredAt, { action: 'reached' });
    entry('journey_step', 'has_phone', enteredAt + 4 * HOUR, { action: 'reached' });
    entry('journey_step', 'has_phone', enteredAt + 4 * HOUR, {
      action: 'branch',
      taken: viaSms ? 0 : 'else',
    });
    for (const [step, channel, template, at] of sends) {
      const messageId = `${enrollmentId}:${step}:1`;
      entry('journey_step', step, at, { action: 'reached' });
      entry('message_sent', step, at, {
        messageId,
        channel,
        template,
        status: holdout ? 'shadow' : 'queued',
      });
      if (!holdout)
        entry('message_status', step, at + 1000, { messageId, channel, template, status: 'sent' });
    }
    entry('journey_exited', 'last', enteredAt + 4 * HOUR, { reason: 'completed' });
    const calls: StoredEvent[] = [];
    if (!holdout) {
      for (const [step, channel, template] of sends) {
        // What the channels put on a receipt or click event (the message's record).
        const message = {
          messageId: `${enrollmentId}:${step}:1`,
          journeyId: 'bench_report',
          version,
          step,
          channel,
          template,
        };
        if (random() < 0.8) calls.push(call('message_delivered', enteredAt + 5 * HOUR, message));
        if (random() < 0.1) calls.push(call('message_clicked', enteredAt + 6 * HOUR, message));
      }
    }
    if (converted < conversions && i >= converted * convertEvery) {
      converted++;
      const at = enteredAt + Math.floor(random() * 7 * DAY);
      calls.push(call('order_paid', at, { orderId: `o${i}`, amount: Math.round(random() * 50_000) / 100 }));
    }
    for (const [scope, fields] of Object.entries(
      reportCounts(profile, [...events, ...calls], {
        journeys: workspace.journeys,
        now: enteredAt,
        timezone: 'UTC',
        graceMs: DAY,
      }),
    ))
      for (const [f, n] of Object.entries(fields)) addCount(total, scope, f, n);
    if (i % 50_000 === 0)
      log(`  built ${fmt(i)} enrollments (${fmt((performance.now() - started) / 1000, 1)} s)`);
  }
  return total;
}

let seq = 0;
const call = (event: string, at: number, properties: Record<string, string | number>): StoredEvent => ({
  messageId: `c${seq++}`,
  type: 'track',
  event,
  properties,
  timestamp: at,
  receivedAt: at,
});

const workspace = new Workspace({ journeys: [journey(1), journey(2)], timezone: 'UTC' });
log(`building counters for ${fmt(messages)} messages and ${fmt(conversions)} conversions over ${days} days…`);
const counts = buildCounters(workspace);
const storeOptions = { eventRetentionMs: 400 * DAY, dedupeHorizonMs: DAY };
const prefix = uniquePrefix('bench-reports');
const storeName = values.cluster ? 'redis cluster' : values.store;
const redis: RedisClient | null = values.cluster
  ? connectRedis({ clusterNodes: await localCluster() })
  : values.store === 'redis'
    ? new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    : null;
const buckets = values.cluster ? CLUSTER_BUCKETS : 1;
const store: Store = redis
  ? new RedisStore({ ...storeOptions, redis, prefix, buckets })
  : new MemoryStore(storeOptions);
await store.init();
// Written as commits of a few thousand counters each: one profile's successive versions, or on a
// cluster as many profiles as buckets (about one per bucket), each counter's increments spread over them.
const entries = Object.entries(counts).flatMap(([scope, fields]) =>
  Object.entries(fields).map(([f, n]) => [scope, f, n] as const),
);
const writers = values.cluster ? buckets : 1;
const writerVersions = new Array<number>(writers).fill(0);
async function commitCounts(slice: readonly (readonly [string, string, number])[], spread: boolean) {
  const commits = new Map<number, Counts>();
  slice.forEach(([scope, f, n], i) => {
    // A count split into parts that add up to it, each from another profile.
    const parts = spread ? Math.min(8, Math.abs(n)) || 1 : 1;
    for (let p = 0; p < parts; p++) {
      const by = Math.trunc(n / parts) + (p === 0 ? n % parts : 0);
      const writer = (i * 7 + p * 131) % writers;
      addCount(commits.get(writer) ?? commits.set(writer, {}).get(writer)!, scope, f, by);
    }
  });
  await store.commit(
    [...commits].map(([writer, c]) => {
      const profile = makeProfile(`u:bench-${writer}`, { version: ++writerVersions[writer] });
      const commit =
        writerVersions[writer] === 1
          ? createCommit(profile)
          : updateCommit(profile, writerVersions[writer] - 1);
      commit.counts = c;
      return commit;
    }),
  );
}
for (let i = 0; i < entries.length; i += 5_000) await commitCounts(entries.slice(i, i + 5_000), writers > 1);
const size = (days: ReadonlyMap<string, number>[]) => days.reduce((n, day) => n + day.size, 0);
const fields = size(await readCounterDays(store, 'bench_report', START, END));
log(
  `${fmt(fields)} counter fields in the journey's ${days} days, ${fmt(size(await readCounterDays(store, null, START, END)))} in the workspace's`,
);

// The last day of the counts, and a field of the report's there, which the live traffic adds to.
const lastDay = Math.floor(END / DAY) - 1;
const liveField = Object.keys(counts[`j:bench_report:${lastDay}`] ?? { 'sent|live': 0 })[0];

const live = () =>
  commitCounts(
    [
      ...Array.from({ length: writers * 2 }, (_, i) => [`j:bench_live:${lastDay}`, `f${i}`, 1] as const),
      [`j:bench_report:${lastDay}`, liveField, 1] as const,
    ],
    false,
  );

const key = 'bench-read-key';
const app = createApp({
  keys: new KeyRing([{ key, scopes: ['read'] }]),
  store,
  definitions: new MemoryDefinitionStore(),
  onPublished: async () => null,
  workspace: () => workspace,
  scheduler: new InProcessScheduler({ clock: new SystemClock() }),
  ingestor: { accept: async () => {} },
  logger: silentLogger,
  now: () => END,
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const iso = (ms: number) => DateTime.fromMillis(ms, { zone: 'Asia/Shanghai' }).toISODate() as string;
const ranges = {
  'last 30 days': { from: iso(END - 30 * DAY), to: iso(END - DAY), tz: 'Asia/Shanghai' },
  [`all ${days} days`]: { from: iso(START), to: iso(END - DAY), tz: 'Asia/Shanghai' },
};
const versions = workspace.journeys.published('bench_report');
const definitions = versions.map((j) => j.definition);
const rows: string[] = [];
for (const [name, range] of Object.entries(ranges)) {
  const inProcess: number[] = [];
  const http: number[] = [];
  let converted = 0;
  const cold: number[] = [];
  for (let run = 0; run < runs; run++) {
    // Live traffic on a cluster: a count in every bucket, into another journey's scope of the last day,
    // and one into the report's own last day (still open: it is read again, the closed days are not).
    if (writers > 1) {
      await live();
      // The same report as a process's first (nothing of it parsed yet), after the same fold.
      const fresh = new RedisStore({ ...storeOptions, redis: redis as RedisClient, prefix, buckets });
      await fresh.init();
      const t = performance.now();
      const [counters, all] = await Promise.all([
        readJourneyCounters(fresh, versions, range),
        readLastTouchCounters(fresh, range),
      ]);
      journeyReport({ journeyId: 'bench_report', definitions, counters, workspace: all, range });
      cold.push(performance.now() - t);
      await live();
    }
    let t = performance.now();
    const [counters, all] = await Promise.all([
      readJourneyCounters(store, versions, range),
      readLastTouchCounters(store, range),
    ]);
    const report = journeyReport({ journeyId: 'bench_report', definitions, counters, workspace: all, range });
    inProcess.push(performance.now() - t);
    converted = report.totals.converted;
    t = performance.now();
    const res = await fetch(
      `${url}/v1/reports/journeys/bench_report?from=${range.from}&to=${range.to}&tz=${range.tz}`,
      {
        headers: { authorization: `Bearer ${key}` },
      },
    );
    await res.json();
    http.push(performance.now() - t);
  }
  log(`${name}: ${fmt(converted)} conversions in the range`);
  rows.push(`| ${name} | ${fmt(median(inProcess), 1)} ms | ${fmt(median(http), 1)} ms |`);
  if (cold.length > 0) rows.push(`| ${name}, a process's first | ${fmt(median(cold), 1)} ms | |`);
}
server.close();
if (redis) {
  await removeKeys(prefix, redis);
  await redis.quit();
}
console.log(
  `\n${fmt(messages)} messages, ${fmt(conversions)} conversions, ${fmt(fields)} counter fields, ${storeName} store; median of ${runs} runs\n`,
);
console.log('| range | report in process | report over HTTP (JSON) |');
console.log('|---|---|---|');
for (const row of rows) console.log(row);
