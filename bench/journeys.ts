/**
 * bench/journeys: what journeys cost in Redis-only production mode (a `tideline api` and a `tideline
 * worker` process, Redis store, BullMQ queues, the journeys of bench/workspace), and how fast the
 * simulator replays. Usage:
 *   npm run bench:journeys -- [--runs 3] [--quick] [--only enroll,timers,latency,sdk,simulate]
 *     [--workers 1] [--users 20000] [--timer-users 5000] [--seconds 30]
 *     [--rate 2000 | --rate-share 0.03 | --rate-applied 0.5] [--events 50000]
 *     [--sim-users 10000] [--sim-days 30] [--sim-activity 3.75] [--sim-budget 400]
 * --quick: one run of smaller sizes (2,000 users, 1,000 timers, 6 s of stream, 1,000 simulated users),
 * a smoke test. Each figure is the median over the runs; each run starts its own processes on a fresh
 * key prefix, removed afterwards (also on failure or Ctrl-C). Progress on stderr, the table on stdout.
 *
 * 1. enrollments/s: `--users` users who have a profile post `signed_up` (journey bench_wait_day: send,
 *    wait P1D, send) in Segment batches of 100 from 8 keep-alive clients; from the first post until the
 *    ingest queue is drained, i.e. every profile shows the enrollment (also given: until the last
 *    journey_entered decision, the log entry's receivedAt on the worker's clock).
 * 2. Redis bytes per waiting user: those users before and after their signed_up: INFO used_memory
 *    growth / users (other clients of the same Redis add noise), and the growth of this run's own keys
 *    (MEMORY USAGE) by kind. Before signed_up each user made a call of the same size that no journey
 *    reads (signed_in), the control: what any call costs. The waiting itself is the profile's growth
 *    (the journey state) plus the timer (BullMQ job + delayed-set entry), beyond the control's.
 * 3. timer fires/s: `--timer-users` users post `trial_started` all stamped with the same instant
 *    (journey bench_wait_seconds: send, wait PT10S, send), so every timer falls due at the same moment;
 *    from that moment until the last user passed the wait (the `journey_step reached second` entry's
 *    receivedAt). Marked INVALID if the enrollments were not all done by then.
 * 4. event -> decision latency at a steady `--rate` events/s for `--seconds` (a batch every 50 ms, new
 *    users posting signed_up): the journey_entered entry's receivedAt minus the time its batch was
 *    posted; also, for the last user of each batch, the time until their profile exists in Redis (the
 *    commit holding the decision), polled every 10 ms. The first 2 s are a warm-up, not counted. The
 *    load generator shares the machine with the processes and Redis.
 *    The rate of this and the next stream: `--rate` events/s; or `--rate-share` times the
 *    parse-and-answer limit of the same run (bench/limit.ts: node:http + JSON.parse on `--events`
 *    messages of the generated stream, batches of 100, 8 keep-alive clients, measured before each run's
 *    processes start); or `--rate-applied` times the cluster's applied capacity, measured just before
 *    (those same bodies posted the same way, until the ingest queue is drained). Either way the rate
 *    is also given as a share of the limit.
 * 4b. `sdk`: the same measure with requests the way browser and mobile SDKs flush: 1 to 20 messages
 *    each (seeded random sizes), each sent when the stream reaches its share of the rate; with the
 *    worker's CPU over the stream as a percentage of one core (target: p99 < 250 ms, worker < 60 %).
 * 5. simulator replay speed: engine/simulation/simulate.ts over the generated stream of `--sim-users`
 *    users x `--sim-days` days at `--sim-activity` times the personas' sessions (3.75: about a million
 *    events of 10,000 users over 30 days, the target's stream; held in memory) with the demo workspace, in a child process
 *    (bench/journey-replay.ts, which can also be run alone and under --cpu-prof); no new run is started
 *    once `--sim-budget` seconds would be exceeded (at least one run).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { BullMQScheduler } from '../engine/adapters/schedulers/bullmq.ts';
import type { RedisStore } from '../engine/adapters/stores/redis.ts';
import type { StoredEvent } from '../model/events.ts';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import { durationMs } from '../rules/durations.ts';
import { redisView } from '../dev/cluster.ts';
import {
  REDIS_URL,
  removeKeys,
  PROCESS_KEYS,
  spawnTideline,
  type TidelineProcess,
  uniquePrefix,
} from '../dev/processes.ts';
import { fmt, log, median } from './stats.ts';
import { measureLimit, post as postBodies, stream } from './limit.ts';
import { prng } from '../dev/random.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'enroll,timers,latency,sdk,simulate' },
    workers: { type: 'string', default: '1' },
    users: { type: 'string' },
    'timer-users': { type: 'string' },
    rate: { type: 'string', default: '2000' },
    'rate-share': { type: 'string' },
    'rate-applied': { type: 'string' },
    events: { type: 'string' },
    seconds: { type: 'string' },
    'sim-users': { type: 'string' },
    'sim-days': { type: 'string', default: '30' },
    'sim-activity': { type: 'string' },
    'sim-budget': { type: 'string', default: '400' },
  },
});
const quick = values.quick;
/** A size: the flag's value, else the full or the --quick default. */
const size = (flag: string | undefined, full: number, small: number) =>
  flag !== undefined ? Number(flag) : quick ? small : full;
const runs = size(values.runs, 3, 1);
const users = size(values.users, 20_000, 2_000);
const timerUsers = size(values['timer-users'], 5_000, 1_000);
const rate = Number(values.rate);
const rateShare = values['rate-share'] === undefined ? null : Number(values['rate-share']);
const rateApplied = values['rate-applied'] === undefined ? null : Number(values['rate-applied']);
/** Events of the generated stream the limit (and the applied capacity) is measured on. */
const limitEvents = size(values.events, 50_000, 5_000);
const seconds = size(values.seconds, 30, 6);
const simUsers = size(values['sim-users'], 10_000, 1_000);
const simDays = Number(values['sim-days']);
/** Sessions per user against the generator's personas: 3.75 makes about a million events of 10,000 users. */
const simActivity = size(values['sim-activity'], 3.75, 1);
const simBudget = Number(values['sim-budget']);
const workers = Number(values.workers);
const only = new Set(values.only.split(','));

const WORKSPACE = fileURLToPath(new URL('./workspace', import.meta.url));
const BATCH = 100;
const INTERVAL_MS = 50;
/** The largest SDK flush of the sdk run (browser and mobile SDKs send 1 to about 20 messages a request). */
const SDK_MAX_BATCH = 20;
const WARM_UP_MS = 2_000;
/** The wait of the timer journey, read from its file so the two never disagree. */
const TIMER_WAIT_MS = (() => {
  const doc = JSON.parse(
    readFileSync(new URL('./workspace/journeys/bench_wait_seconds.json', import.meta.url), 'utf8'),
  ) as { steps: { id: string; duration?: string }[] };
  return durationMs(doc.steps.find((s) => s.id === 'wait')?.duration as string);
})();
const AUTH = `Basic ${Buffer.from(`${PROCESS_KEYS.write}:`).toString('base64')}`;

// ---------------------------------------------------------------------------------------------
// The cluster: an API and worker processes on a fresh prefix, and a view into their Redis.

interface Cluster {
  prefix: string;
  logged: string[];
  url: string;
  procs: TidelineProcess[];
  redis: Redis;
  store: RedisStore;
  queue: BullMQScheduler;
}

const live = new Set<Cluster>();

async function startCluster(): Promise<Cluster> {
  const prefix = uniquePrefix('bench-journeys');
  const env = {
    LOG_LEVEL: 'warn',
    TIDELINE_DEMO: 'false',
    TIDELINE_STORE: 'redis',
    TIDELINE_QUEUE: 'bullmq',
    TIDELINE_PREFIX: prefix,
    TIDELINE_WORKSPACE: WORKSPACE,
  };
  const procs = [spawnTideline('api', env)];
  for (let i = 0; i < workers; i++) procs.push(spawnTideline('worker', env));
  // What the processes log at warn and above (LOG_LEVEL=warn), shown after the run.
  const logged: string[] = [];
  procs.forEach((p, i) =>
    p.child.stderr?.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n'))
        if (l.trim()) logged.push(`${i === 0 ? 'api' : `worker ${i}`}: ${l}`);
    }),
  );
  const view = await redisView(prefix);
  // Memory, SCAN and the slow log are read off one server.
  if (!(view.redis instanceof Redis))
    throw new Error('bench:journeys measures one Redis: unset REDIS_CLUSTER_NODES');
  const cluster: Cluster = { prefix, logged, url: '', procs, ...view, redis: view.redis };
  live.add(cluster);
  cluster.url = await procs[0].url;
  // The workers publish the workspace and start consuming; give them a moment to be ready.
  await new Promise((r) => setTimeout(r, 1000));
  return cluster;
}

async function stopCluster(c: Cluster): Promise<void> {
  live.delete(c);
  await Promise.all(c.procs.map((p) => p.stop()));
  const lines = c.logged.filter(
    (l) =>
      !/is running at|Redis persistence \(AOF\) is off|Development keys|dev-(write|read|admin)-key/.test(l),
  );
  if (lines.length > 0)
    log(
      `  the processes logged ${lines.length} line(s), the first:\n    ${lines.slice(0, 5).join('\n    ')}`,
    );
  await c.queue.close();
  await c.redis.quit();
  await removeKeys(c.prefix);
}

/** On Ctrl-C: stop the processes and remove the keys of every cluster still up. */
process.once('SIGINT', () => {
  log('interrupted: stopping processes and removing keys');
  void Promise.allSettled([...live].map(stopCluster)).finally(() => process.exit(130));
});

/** Polls `check` every `intervalMs` (test/helpers' waitFor polls every 10 ms: too busy for big checks). */
async function poll(check: () => Promise<boolean>, intervalMs: number, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function drained(c: Cluster, timeoutMs = 600_000): Promise<void> {
  await poll(
    async () => (await c.queue.pending(INGEST_QUEUE)) === 0,
    20,
    timeoutMs,
    'the ingest queue to drain',
  );
}

const maxOf = (xs: Iterable<number>) => {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > max) max = x;
  return max;
};
const minOf = (xs: Iterable<number>) => -maxOf([...xs].map((x) => -x));

// ---------------------------------------------------------------------------------------------
// Posting

interface Track {
  type: 'track';
  userId: string;
  event: string;
  messageId: string;
  timestamp: string;
}

const track = (userId: string, event: string, timestamp: string): Track => ({
  type: 'track',
  userId,
  event,
  messageId: `${event}-${userId}`,
  timestamp,
});

async function post(url: string, batch: Track[]): Promise<void> {
  const res = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: AUTH },
    body: JSON.stringify({ batch }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`POST /v1/batch answered ${res.status}`);
}

/** One `event` per user in batches of 100 from 8 concurrent clients; each batch stamped when it is sent. */
async function postAll(
  url: string,
  userIds: readonly string[],
  event: string,
  timestamp?: string,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < userIds.length) {
        const from = next;
        next += BATCH;
        const at = timestamp ?? new Date().toISOString();
        await post(
          url,
          userIds.slice(from, from + BATCH).map((u) => track(u, event, at)),
        );
      }
    }),
  );
}

const userIdsOf = (run: number, phase: string, n: number) =>
  Array.from({ length: n }, (_, i) => `bj${run}-${phase}-${i}`);

// ---------------------------------------------------------------------------------------------
// Reading what the engine decided

/** Each user's journey log entries of `journeyId` (from their stored history), read 500 users at a time. */
async function journeyLogs(
  c: Cluster,
  userIds: readonly string[],
  journeyId: string,
): Promise<Map<string, StoredEvent[]>> {
  const logs = new Map<string, StoredEvent[]>();
  for (let i = 0; i < userIds.length; i += 500) {
    const chunk = userIds.slice(i, i + 500);
    const histories = await Promise.all(chunk.map((u) => c.store.recentEvents(`u:${u}`, 100)));
    chunk.forEach((u, j) =>
      logs.set(
        u,
        histories[j].filter((e) => e.type === 'internal' && e.properties?.journeyId === journeyId),
      ),
    );
  }
  return logs;
}

/** The decision time (receivedAt) of each user's first log entry matching `match`; throws if one has none. */
function decisionTimes(
  logs: Map<string, StoredEvent[]>,
  what: string,
  match: (e: StoredEvent) => boolean,
): Map<string, number> {
  const times = new Map<string, number>();
  for (const [u, entries] of logs) {
    const hit = entries.find(match);
    if (hit) times.set(u, hit.receivedAt);
  }
  if (times.size !== logs.size)
    throw new Error(`${logs.size - times.size} of ${logs.size} users have no ${what} entry`);
  return times;
}

const isEntered = (e: StoredEvent) => e.event === 'journey_entered';
const passedWait = (e: StoredEvent) =>
  e.event === 'journey_step' && e.properties?.step === 'second' && e.properties?.action === 'reached';

/** Waits until none of the users has a message in their outbox (every send handed to the gateway). */
async function handedOver(c: Cluster, userIds: readonly string[]): Promise<void> {
  await poll(
    async () => {
      for (let i = 0; i < userIds.length; i += 1000) {
        const profiles = await c.store.getProfiles(userIds.slice(i, i + 1000).map((u) => `u:${u}`));
        for (const p of profiles.values()) if (p.outbox?.length) return false;
      }
      return true;
    },
    200,
    600_000,
    'every send to be handed to the gateway',
  );
}

/** Users whose profile shows them waiting in `journeyId`'s `wait` step. */
async function waitingCount(c: Cluster, userIds: readonly string[], journeyId: string): Promise<number> {
  let n = 0;
  for (let i = 0; i < userIds.length; i += 1000) {
    const profiles = await c.store.getProfiles(userIds.slice(i, i + 1000).map((u) => `u:${u}`));
    for (const p of profiles.values()) if (p.journeys?.[journeyId]?.active?.step === 'wait') n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Redis memory

const KINDS = [
  'profiles',
  'histories',
  'dedupe markers',
  'timer jobs',
  'queue event streams',
  'queues, other',
  'other',
] as const;
type Kind = (typeof KINDS)[number];

function kindOf(prefix: string, key: string): Kind {
  const rest = key.slice(prefix.length + 1);
  if (rest.startsWith('p:')) return 'profiles';
  if (rest.startsWith('h:') || rest.startsWith('e:')) return 'histories';
  if (rest.startsWith('m:')) return 'dedupe markers';
  if (rest.startsWith('q:')) {
    // BullMQ's per-queue event stream, capped at 10,000 entries.
    if (rest.endsWith(':events')) return 'queue event streams';
    // Users' re-check timers (engine/profiles/checks.ts): a job hash each, the delayed set, a few fixed keys.
    if (rest.startsWith('q:profile-checks:')) return 'timer jobs';
    return 'queues, other';
  }
  return 'other';
}

const perUser = (after: MemorySnapshot, before: MemorySnapshot, n: number) =>
  Object.fromEntries(KINDS.map((k) => [k, (after.kinds[k] - before.kinds[k]) / n])) as Record<Kind, number>;
const total = (kinds: Record<Kind, number>) => KINDS.reduce((sum, k) => sum + kinds[k], 0);

interface MemorySnapshot {
  used: number;
  kinds: Record<Kind, number>;
}

/** INFO used_memory, and MEMORY USAGE of every key of the prefix by kind. */
async function memory(c: Cluster): Promise<MemorySnapshot> {
  const kinds = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  let cursor = '0';
  do {
    const [next, keys] = await c.redis.scan(cursor, 'MATCH', `${c.prefix}:*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = c.redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      kinds[kindOf(c.prefix, key)] += Number(replies[i][1] ?? 0);
    });
  } while (cursor !== '0');
  const used = Number(/used_memory:(\d+)/.exec(await c.redis.info('memory'))?.[1]);
  return { used, kinds };
}

// ---------------------------------------------------------------------------------------------
// The phases

interface EnrollFigures {
  /** Until every profile shows the enrollment: the ingest queue seen drained (polled every 20 ms). */
  perSecond: number;
  /** Until the last journey_entered decision (its receivedAt: taken before the batch is decided and committed). */
  decidedPerSecond: number;
  /** INFO used_memory growth per user with the enrollment (the signed_up call included). */
  bytesPerUser: number;
  /** The same from this run's keys, by kind. */
  kinds: Record<Kind, number>;
  /** What the control call (signed_in: same size, no journey) cost per user, from this run's keys. */
  plainEventBytes: number;
  /** Profile growth and timer job beyond the control call's: the waiting itself. */
  waitingBytesPerUser: number;
  logEntriesPerUser: number;
  logEntryJsonBytes: number;
}

async function enrollPhase(c: Cluster, run: number): Promise<EnrollFigures> {
  const ids = userIdsOf(run, 'e', users);
  const settle = async () => {
    await drained(c);
    await new Promise((r) => setTimeout(r, 500));
    return memory(c);
  };
  // The users exist (one app_opened each), then make a call of the same size as signed_up that no
  // journey reads (signed_in): what any call costs, to tell apart from what the enrollment adds.
  await postAll(c.url, ids, 'app_opened');
  const existing = await settle();
  await postAll(c.url, ids, 'signed_in');
  const before = await settle();

  const t0 = Date.now();
  await postAll(c.url, ids, 'signed_up');
  await drained(c);
  const observed = Date.now();
  const logs = await journeyLogs(c, ids, 'bench_wait_day');
  const entered = decisionTimes(logs, 'journey_entered', isEntered);
  const decided = (maxOf(entered.values()) - t0) / 1000;
  const seconds = (observed - t0) / 1000;
  log(
    `  enroll: ${fmt(users)} users entered in ${fmt(seconds, 2)} s (the last decision after ${fmt(decided, 2)} s)`,
  );
  const waiting = await waitingCount(c, ids, 'bench_wait_day');
  if (waiting !== users) throw new Error(`${waiting} of ${users} users wait in bench_wait_day's wait step`);
  // Waiting, their first message gone: the journey state and the timer are what stays.
  await handedOver(c, ids);
  const after = await settle();

  const kinds = perUser(after, before, users);
  const control = perUser(before, existing, users);
  let entries = 0;
  let json = 0;
  for (const l of logs.values()) {
    entries += l.length;
    for (const e of l) json += JSON.stringify(e).length;
  }
  const figures = {
    perSecond: users / seconds,
    decidedPerSecond: users / decided,
    bytesPerUser: (after.used - before.used) / users,
    kinds,
    plainEventBytes: total(control),
    waitingBytesPerUser: kinds.profiles - control.profiles + (kinds['timer jobs'] - control['timer jobs']),
    logEntriesPerUser: entries / users,
    logEntryJsonBytes: json / entries,
  };
  log(
    `  memory: ${fmt(figures.bytesPerUser)} bytes/user (INFO), ${fmt(total(kinds))} in the run's keys, a plain call ${fmt(figures.plainEventBytes)}, waiting ${fmt(figures.waitingBytesPerUser)}`,
  );
  return figures;
}

interface TimerFigures {
  perSecond: number;
  firstLagMs: number;
  lastLagMs: number;
  enrolledBeforeDue: boolean;
}

/** ZCARD of each user's history: it grows when their timer fires and the journey moves on. */
async function historySizes(c: Cluster, ids: readonly string[]): Promise<number[]> {
  const sizes: number[] = [];
  for (let i = 0; i < ids.length; i += 5000) {
    const pipeline = c.redis.pipeline();
    for (const u of ids.slice(i, i + 5000)) pipeline.zcard(`${c.prefix}:h:u:${u}`);
    for (const [error, n] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      sizes.push(Number(n));
    }
  }
  return sizes;
}

async function timersPhase(c: Cluster, run: number): Promise<TimerFigures> {
  const ids = userIdsOf(run, 't', timerUsers);
  // Every trigger carries the same instant: every user's timer falls due at `due`.
  const at = Date.now();
  await postAll(c.url, ids, 'trial_started', new Date(at).toISOString());
  await drained(c);
  const due = at + TIMER_WAIT_MS;
  const enrolledAt = Date.now();
  const enrolledBeforeDue = enrolledAt < due;
  if (!enrolledBeforeDue)
    log(
      `  timers: WARNING the enrollments took until ${enrolledAt - due} ms after the due time; lower --timer-users`,
    );
  // Their first message handed over (its status logged): what grows next is the wait firing.
  await handedOver(c, ids);
  const base = await historySizes(c, ids);
  await poll(
    async () => {
      if (Date.now() < due) return false;
      const now = await historySizes(c, ids);
      return now.every((n, i) => n > base[i]);
    },
    200,
    due - Date.now() + 300_000,
    'every timer to fire',
  );
  const logs = await journeyLogs(c, ids, 'bench_wait_seconds');
  const fired = [...decisionTimes(logs, 'journey_step reached second', passedWait).values()];
  const first = minOf(fired);
  const last = maxOf(fired);
  const early = fired.filter((t) => t < due).length;
  if (early > 0) log(`  timers: WARNING ${early} users passed the wait before it was due (late enrollment)`);
  log(
    `  timers: ${fmt(timerUsers)} timers due at once: first fired ${fmt(first - due)} ms after due, last ${fmt(last - due)} ms`,
  );
  return {
    perSecond: (timerUsers / (last - due)) * 1000,
    firstLagMs: first - due,
    lastLagMs: last - due,
    enrolledBeforeDue: enrolledBeforeDue && early === 0,
  };
}

/** CPU seconds a process has used so far (Linux /proc; null elsewhere). */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime (fields 14 and 15 of the line) in clock ticks of 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Redis commands (any client's) slower than 10 ms between `from` and `to` (ms), from the slow log's last 128. */
async function slowCommands(
  c: Cluster,
  from: number,
  to: number,
): Promise<{ count: number; worstMs: number }> {
  const entries = (await c.redis.slowlog('GET', 128)) as [number, number, number, string[]][];
  let count = 0;
  let worstMs = 0;
  for (const [, at, micros] of entries) {
    if (at * 1000 < from - 1000 || at * 1000 > to + 1000 || micros < 10_000) continue;
    count++;
    worstMs = Math.max(worstMs, micros / 1000);
  }
  return { count, worstMs };
}

interface LatencyFigures {
  p50: number;
  p99: number;
  max: number;
  /** Until the profile shows the enrollment (its commit), one user per batch, polled every 10 ms. */
  visibleP50: number;
  visibleP99: number;
  /** Percent of one core used by the API and by the (first) worker process while the stream ran. */
  apiCpu: number | null;
  workerCpu: number | null;
  /** Redis commands slower than 10 ms while the stream ran: Redis itself stalling. */
  slowRedis: number;
  achievedRate: number;
  /** The requests posted (a batch each). */
  requests: number;
  httpP99: number;
  maxPostLagMs: number;
  counted: number;
}

/** Nearest-rank quantile of sorted values. */
const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

/** A stream to post: when each request goes (ms after the start) with how many users, and its end. */
interface Schedule {
  batches: { offsetMs: number; size: number }[];
  endMs: number;
}

/** The latency run's stream: a batch every 50 ms, `rate * 50 ms` users each. */
function everyInterval(eventsPerSecond: number): Schedule {
  const perBatch = Math.round((eventsPerSecond * INTERVAL_MS) / 1000);
  const count = Math.round((seconds * 1000) / INTERVAL_MS);
  return {
    batches: Array.from({ length: count }, (_, k) => ({ offsetMs: k * INTERVAL_MS, size: perBatch })),
    endMs: count * INTERVAL_MS,
  };
}

/**
 * As browser and mobile SDKs flush: requests of 1 to 20 messages (sizes drawn from a seeded PRNG),
 * each sent when the stream has reached its share of `eventsPerSecond`.
 */
function sdkFlushes(eventsPerSecond: number, seed: number): Schedule {
  const random = prng(seed);
  const total = Math.round(eventsPerSecond * seconds);
  const batches: Schedule['batches'] = [];
  for (let sent = 0; sent < total;) {
    const size = Math.min(total - sent, 1 + Math.floor(random() * SDK_MAX_BATCH));
    batches.push({ offsetMs: (sent * 1000) / eventsPerSecond, size });
    sent += size;
  }
  return { batches, endMs: (total * 1000) / eventsPerSecond };
}

async function latencyPhase(
  c: Cluster,
  run: number,
  phase: string,
  schedule: Schedule,
): Promise<LatencyFigures> {
  const ids = userIdsOf(
    run,
    phase,
    schedule.batches.reduce((n, b) => n + b.size, 0),
  );
  const postedAt = new Map<string, number>();
  const http: number[] = [];
  const inFlight: Promise<void>[] = [];
  let maxPostLagMs = 0;
  const start = Date.now() + 100;
  // The last user of each batch is watched until their profile exists (these users are new: the
  // commit that creates it holds the enrollment).
  const watched = new Map<string, number>();
  const visible: number[] = [];
  let posting = true;
  // The watcher's round trips also tell whether Redis itself stalled.
  let slowestRoundTrip = { ms: 0, at: 0 };
  const watcher = (async () => {
    while (posting || watched.size > 0) {
      const pending = [...watched];
      if (pending.length > 0) {
        const pipeline = c.redis.pipeline();
        for (const [u] of pending) pipeline.exists(`${c.prefix}:p:u:${u}`);
        const sent = Date.now();
        const replies = (await pipeline.exec()) ?? [];
        const now = Date.now();
        if (now - sent > slowestRoundTrip.ms) slowestRoundTrip = { ms: now - sent, at: sent - start };
        pending.forEach(([u, at], i) => {
          if (replies[i][1] !== 1) return;
          watched.delete(u);
          if (at >= start + WARM_UP_MS) visible.push(now - at);
        });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const cpuBefore = c.procs.slice(0, 2).map((p) => cpuSeconds(p.child.pid));
  let from = 0;
  for (const batch of schedule.batches) {
    const target = start + batch.offsetMs;
    const wait = target - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const at = Date.now();
    maxPostLagMs = Math.max(maxPostLagMs, at - target);
    const batchIds = ids.slice(from, from + batch.size);
    from += batch.size;
    const timestamp = new Date(at).toISOString();
    for (const u of batchIds) postedAt.set(u, at);
    watched.set(batchIds[batchIds.length - 1], at);
    inFlight.push(
      post(
        c.url,
        batchIds.map((u) => track(u, 'signed_up', timestamp)),
      ).then(() => {
        http.push(Date.now() - at);
      }),
    );
  }
  const lastPost = Date.now();
  const cpuAfter = c.procs.slice(0, 2).map((p) => cpuSeconds(p.child.pid));
  const cpuPercent = (i: number) => {
    const [before, after] = [cpuBefore[i], cpuAfter[i]];
    return before === null || after === null ? null : ((after - before) / ((lastPost - start) / 1000)) * 100;
  };
  await Promise.all(inFlight);
  await drained(c);
  posting = false;
  await watcher;
  const slow = await slowCommands(c, start, Date.now());
  const tailMs = schedule.endMs - (schedule.batches.at(-1)?.offsetMs ?? 0);
  const achievedRate = (ids.length / (lastPost - start + tailMs)) * 1000;
  const logs = await journeyLogs(c, ids, 'bench_wait_day');
  const entered = decisionTimes(logs, 'journey_entered', isEntered);
  const counted = ids.filter((u) => (postedAt.get(u) as number) >= start + WARM_UP_MS);
  const latencies = counted
    .map((u) => (entered.get(u) as number) - (postedAt.get(u) as number))
    .sort((a, b) => a - b);
  // Where the slow ones were: the worst seconds of the stream.
  const bySecond = new Map<number, number>();
  for (const u of counted) {
    const second = Math.floor(((postedAt.get(u) as number) - start) / 1000);
    const latency = (entered.get(u) as number) - (postedAt.get(u) as number);
    bySecond.set(second, Math.max(bySecond.get(second) ?? 0, latency));
  }
  const worst = [...bySecond]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([second, ms]) => `+${second} s: ${fmt(ms)} ms`)
    .join(', ');
  http.sort((a, b) => a - b);
  visible.sort((a, b) => a - b);
  const figures = {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies[latencies.length - 1],
    visibleP50: quantile(visible, 0.5),
    visibleP99: quantile(visible, 0.99),
    apiCpu: cpuPercent(0),
    workerCpu: cpuPercent(1),
    slowRedis: slow.count,
    achievedRate,
    requests: schedule.batches.length,
    httpP99: quantile(http, 0.99),
    maxPostLagMs,
    counted: latencies.length,
  };
  log(
    `  ${phase === 's' ? 'sdk' : 'latency'}: ${fmt(ids.length)} events in ${fmt(schedule.batches.length)} requests at ${fmt(achievedRate)}/s: p50 ${fmt(figures.p50)} ms, p99 ${fmt(figures.p99)} ms, max ${fmt(figures.max)} ms; in the store p50 ${fmt(figures.visibleP50)} ms, p99 ${fmt(figures.visibleP99)} ms (HTTP p99 ${fmt(figures.httpP99)} ms, generator late by up to ${fmt(maxPostLagMs)} ms)`,
  );
  log(
    `  ${phase === 's' ? 'sdk' : 'latency'}: slowest seconds ${worst}; API ${fmt(figures.apiCpu ?? NaN)}% and worker ${fmt(figures.workerCpu ?? NaN)}% of a core; slowest Redis round trip ${fmt(slowestRoundTrip.ms)} ms at +${fmt(slowestRoundTrip.at / 1000, 1)} s; ${slow.count} Redis command(s) over 10 ms (the slowest ${fmt(slow.worstMs)} ms)`,
  );
  return figures;
}

/**
 * Events/s this cluster applies at most: the limit's bodies in batches of 100 from 8 clients, from the
 * first post until the ingest queue is drained.
 */
async function appliedCapacity(c: Cluster, events: { bodies: string[]; total: number }): Promise<number> {
  const t0 = performance.now();
  await postBodies(c.url, events.bodies);
  await drained(c);
  const perSecond = (events.total / (performance.now() - t0)) * 1000;
  log(`  applied capacity: ${fmt(perSecond)} events/s (${fmt(events.total)} events of the generated stream)`);
  return perSecond;
}

interface ReplayFigures {
  messages: number;
  users: number;
  seconds: number;
  cpuSeconds: number;
  generateSeconds: number;
  entered: Record<string, number>;
}

const REPLAY = fileURLToPath(new URL('./journey-replay.ts', import.meta.url));

async function replay(): Promise<ReplayFigures> {
  const replayArgs = [REPLAY, String(simUsers), String(simDays), String(simActivity)];
  const child = spawn(process.execPath, ['--import', 'tsx', ...replayArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench/journey-replay.ts exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1) as string) as ReplayFigures;
}

// ---------------------------------------------------------------------------------------------

const series = {
  enroll: [] as EnrollFigures[],
  timers: [] as TimerFigures[],
  latency: [] as LatencyFigures[],
  sdk: [] as LatencyFigures[],
  /** The parse-and-answer limit measured before each run (events/s), and the rate each run streamed at. */
  limit: [] as number[],
  rate: [] as number[],
  replay: [] as ReplayFigures[],
};
const load = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
log(`bench/journeys: ${cpus().length} cores, load average ${load} at start`);

const streaming = only.has('latency') || only.has('sdk');
const limitStream = streaming ? stream(limitEvents) : null;
if (only.has('enroll') || only.has('timers') || streaming) {
  for (let run = 1; run <= runs; run++) {
    log(`run ${run}/${runs}`);
    // The yardstick of this run, before its processes start: the streams' rates are read against it.
    let limit = 0;
    if (limitStream) {
      limit = (await measureLimit('node', limitStream)).perSecond;
      series.limit.push(limit);
      log(`  parse-and-answer limit: ${fmt(limit)} events/s`);
    }
    const c = await startCluster();
    try {
      if (only.has('enroll')) series.enroll.push(await enrollPhase(c, run));
      if (only.has('timers')) series.timers.push(await timersPhase(c, run));
      if (streaming) {
        const runRate =
          rateApplied !== null && limitStream
            ? rateApplied * (await appliedCapacity(c, limitStream))
            : rateShare !== null
              ? rateShare * limit
              : rate;
        series.rate.push(runRate);
        if (only.has('latency')) series.latency.push(await latencyPhase(c, run, 'l', everyInterval(runRate)));
        if (only.has('sdk')) series.sdk.push(await latencyPhase(c, run, 's', sdkFlushes(runRate, run)));
      }
    } finally {
      await stopCluster(c);
    }
  }
}
if (only.has('simulate')) {
  const began = performance.now();
  for (let run = 1; run <= runs; run++) {
    const r = await replay();
    series.replay.push(r);
    log(
      `simulator run ${run}: ${fmt(r.messages)} messages in ${fmt(r.seconds, 1)} s (${fmt(r.messages / r.seconds)}/s, ${fmt(r.cpuSeconds, 1)} CPU s)`,
    );
    const spent = (performance.now() - began) / 1000;
    if (run < runs && spent + r.seconds + r.generateSeconds > simBudget) {
      log(`simulator: --sim-budget ${simBudget} s would be exceeded; stopping after ${run} run(s)`);
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The report

const rows: [string, string, string, string][] = [];
const m = <T>(xs: T[], f: (x: T) => number) => median(xs.map(f));
const each = <T>(xs: T[], f: (x: T) => number, digits = 0) => xs.map((x) => fmt(f(x), digits)).join(', ');
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

if (series.enroll.length > 0) {
  const e = series.enroll;
  rows.push([
    `enrollments/s (${fmt(users)} users)`,
    fmt(m(e, (x) => x.perSecond)),
    each(e, (x) => x.perSecond),
    '',
  ]);
  rows.push([
    '  counted to the last decision (receivedAt)',
    fmt(m(e, (x) => x.decidedPerSecond)),
    each(e, (x) => x.decidedPerSecond),
    '',
  ]);
  rows.push([
    'Redis bytes per enrolled user (INFO used_memory)',
    fmt(m(e, (x) => x.bytesPerUser)),
    each(e, (x) => x.bytesPerUser),
    '',
  ]);
  rows.push([
    "  the run's keys (MEMORY USAGE)",
    fmt(m(e, (x) => total(x.kinds))),
    each(e, (x) => total(x.kinds)),
    '',
  ]);
  for (const k of KINDS) {
    if (e.every((x) => Math.abs(x.kinds[k]) < 1)) continue;
    rows.push([`    ${k}`, fmt(m(e, (x) => x.kinds[k])), each(e, (x) => x.kinds[k]), '']);
  }
  rows.push([
    '  a plain call of the same size (control)',
    fmt(m(e, (x) => x.plainEventBytes)),
    each(e, (x) => x.plainEventBytes),
    '',
  ]);
  const entries = m(e, (x) => x.logEntriesPerUser);
  const entryBytes = m(e, (x) => x.logEntryJsonBytes);
  rows.push([
    '  journey log entries per user, JSON bytes each',
    `${fmt(entries, 1)} x ${fmt(entryBytes)}`,
    '',
    '',
  ]);
  const waiting = m(e, (x) => x.waitingBytesPerUser);
  rows.push([
    'Redis bytes per waiting user (journey state + timer)',
    fmt(waiting),
    each(e, (x) => x.waitingBytesPerUser),
    `< 1,024: ${verdict(waiting < 1024)}`,
  ]);
}
if (series.timers.length > 0) {
  const t = series.timers;
  rows.push([
    `timer fires/s (${fmt(timerUsers)} timers due at once)`,
    fmt(m(t, (x) => x.perSecond)),
    each(t, (x) => x.perSecond),
    t.every((x) => x.enrolledBeforeDue) ? '' : 'INVALID: enrolled after due',
  ]);
  rows.push([
    '  first timer fired after due (ms)',
    fmt(m(t, (x) => x.firstLagMs)),
    each(t, (x) => x.firstLagMs),
    '',
  ]);
  rows.push([
    '  last timer fired after due (ms)',
    fmt(m(t, (x) => x.lastLagMs)),
    each(t, (x) => x.lastLagMs),
    '',
  ]);
}
/** The rows of one steady stream's run (`title`: how it posted). */
function latencyRows(l: LatencyFigures[], title: string) {
  const at = `${title} at ${fmt(median(series.rate))} events/s`;
  rows.push([`event -> decision p50, ${at} (ms)`, fmt(m(l, (x) => x.p50)), each(l, (x) => x.p50), '']);
  const p99 = m(l, (x) => x.p99);
  rows.push([
    `event -> decision p99, ${at} (ms)`,
    fmt(p99),
    each(l, (x) => x.p99),
    `< 250: ${verdict(p99 < 250)}`,
  ]);
  rows.push(['  max (ms)', fmt(m(l, (x) => x.max)), each(l, (x) => x.max), '']);
  rows.push([
    '  until the profile shows it, p50 (ms, sampled)',
    fmt(m(l, (x) => x.visibleP50)),
    each(l, (x) => x.visibleP50),
    '',
  ]);
  rows.push([
    '  until the profile shows it, p99 (ms, sampled)',
    fmt(m(l, (x) => x.visibleP99)),
    each(l, (x) => x.visibleP99),
    '',
  ]);
  rows.push([
    '  rate achieved (events/s)',
    fmt(m(l, (x) => x.achievedRate)),
    each(l, (x) => x.achievedRate),
    '',
  ]);
  if (series.limit.length === l.length)
    rows.push([
      '  rate as a share of the parse-and-answer limit',
      fmt(median(l.map((x, i) => x.achievedRate / series.limit[i])), 3),
      l.map((x, i) => fmt(x.achievedRate / series.limit[i], 3)).join(', '),
      '',
    ]);
  rows.push(['  requests posted', fmt(m(l, (x) => x.requests)), each(l, (x) => x.requests), '']);
  rows.push(['  HTTP answer p99 (ms)', fmt(m(l, (x) => x.httpP99)), each(l, (x) => x.httpP99), '']);
  rows.push([
    '  Redis commands over 10 ms meanwhile (slow log)',
    fmt(m(l, (x) => x.slowRedis)),
    each(l, (x) => x.slowRedis),
    '',
  ]);
  if (l.every((x) => x.workerCpu !== null && x.apiCpu !== null)) {
    rows.push([
      '  worker CPU while streaming (% of a core)',
      fmt(m(l, (x) => x.workerCpu as number)),
      each(l, (x) => x.workerCpu as number),
      `< 60: ${verdict(m(l, (x) => x.workerCpu as number) < 60)}`,
    ]);
    rows.push([
      '  API CPU while streaming (% of a core)',
      fmt(m(l, (x) => x.apiCpu as number)),
      each(l, (x) => x.apiCpu as number),
      '',
    ]);
  }
}
if (series.limit.length > 0)
  rows.push([
    `parse-and-answer limit (node:http + JSON.parse, ${fmt(limitEvents)} events in batches of 100)`,
    fmt(median(series.limit)),
    each(series.limit, (x) => x),
    '',
  ]);
if (series.latency.length > 0)
  latencyRows(series.latency, `batches of ${fmt(median(series.rate) / 20)} every 50 ms`);
if (series.sdk.length > 0) latencyRows(series.sdk, `SDK flushes of 1-${SDK_MAX_BATCH}`);
if (series.replay.length > 0) {
  const r = series.replay;
  const perSecond = m(r, (x) => x.messages / x.seconds);
  rows.push([
    `simulator events/s (${fmt(r[0].messages)} events, ${fmt(simUsers)} users x ${simDays} d, ${r.length} run${r.length > 1 ? 's' : ''})`,
    fmt(perSecond),
    each(r, (x) => x.messages / x.seconds),
    `>= 16,667: ${verdict(perSecond >= 1e6 / 60)}`,
  ]);
  const replaySeconds = m(r, (x) => x.seconds);
  const cpuSecondsUsed = m(r, (x) => x.cpuSeconds);
  rows.push(['  replay seconds', fmt(replaySeconds, 1), each(r, (x) => x.seconds, 1), '']);
  rows.push(['  CPU seconds', fmt(cpuSecondsUsed, 1), each(r, (x) => x.cpuSeconds, 1), '']);
  const million = 1e6 / perSecond;
  rows.push(['  1,000,000 events at that rate (s)', fmt(million, 1), '', `< 60: ${verdict(million < 60)}`]);
}

const header: [string, string, string, string] = ['metric', 'median', `runs (${runs})`, 'target'];
const widths = [0, 1, 2, 3].map((i) => Math.max(...[header, ...rows].map((row) => row[i].length)));
const line = (row: string[]) =>
  row
    .map((cell, i) => (i === 1 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
    .join('  ')
    .trimEnd();
const flags = process.argv.slice(2).join(' ');
const commands = [
  `npm run bench:journeys${flags ? ` -- ${flags}` : ''}`,
  `  processes: REDIS_URL=${REDIS_URL} TIDELINE_STORE=redis TIDELINE_QUEUE=bullmq TIDELINE_PREFIX=tltest-bench-journeys-<hex> TIDELINE_WORKSPACE=bench/workspace TIDELINE_DEMO=false LOG_LEVEL=warn node bin/tideline.mjs api|worker (1 api, ${workers} worker(s), worker concurrency 20)`,
  `  simulator: node --import tsx bench/journey-replay.ts ${simUsers} ${simDays} ${simActivity}`,
  `  profile it: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/journey-replay.ts ${simUsers} ${simDays} ${simActivity}`,
];
process.stdout.write(
  `\n${[
    `bench/journeys: Redis-only (1 api + ${workers} worker, BullMQ) and the simulator; ${cpus().length} cores, load average at start ${load}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...commands,
  ].join('\n')}\n`,
);
