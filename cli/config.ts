import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CronExpressionParser } from 'cron-parser';
import { Duration, IANAZone } from 'luxon';
import { parseClusterNodes } from '../engine/adapters/redis-connection.ts';
import { allowList } from '../engine/adapters/webhooks/http.ts';
import { MAX_PARTITIONS, parsePartitionList, QueuePartitions } from '../engine/queue-partitions.ts';
import { parseRateLimit, type RateLimit } from '../api/ingest/rate-limit.ts';

export type StoreKind = 'memory' | 'redis' | 'mongodb';
export type QueueKind = 'in-process' | 'bullmq';
export type Mode = 'embedded' | 'api' | 'worker';

export interface Config {
  port: number;
  host: string;
  store: StoreKind;
  queue: QueueKind;
  redisUrl: string;
  /** Seeds of a Redis Cluster (REDIS_CLUSTER_NODES): when any, every Redis connection is a cluster one. */
  redisClusterNodes: string[];
  mongoUrl: string | undefined;
  mongoDb: string;
  prefix: string;
  dataDir: string;
  snapshotIntervalMs: number;
  dedupeHorizonMs: number;
  eventRetentionMs: number;
  lateGraceMs: number;
  workerConcurrency: number;
  /** Users' timer jobs a worker runs at once (message hand-overs wait on providers). */
  checkConcurrency: number;
  /** How many partitions the ingest and timer queues have, and which of them a worker consumes. */
  queuePartitions: QueuePartitions;
  lockDurationMs: number;
  stalledIntervalMs: number;
  demo: boolean;
  /** A workspace folder whose changed files are published at start. */
  workspaceDir: string | undefined;
  /** Day boundaries for users without a timezone. */
  timezone: string;
  /** Percent of users (by profile bucket) held out of every journey: the global control group. */
  globalControlPercent: number;
  /** How often a process looks for definitions published through another process. */
  workspaceRefreshMs: number;
  /** When workers sweep for overdue timers to re-add: a cron expression read in UTC. */
  sweepCron: string;
  logLevel: string;
  /** Where recipients reach the API (click and unsubscribe links in messages). */
  publicUrl: string;
  /** Signs click and unsubscribe links. */
  linkSecret: string;
  /** The channels file (providers and send policy); none: every channel goes to the sandbox. */
  channelsFile: string | undefined;
  keys: { write: string; admin: string; read: string };
  /** Browser origins allowed to post events (CORS on the ingestion routes): `*` or exact origins. */
  corsOrigins: '*' | string[];
  /** Requests one key may make to the ingestion routes per window; null: unlimited. */
  rateLimit: RateLimit | null;
  /** Which keys fell back to their development defaults. */
  devKeys: string[];
  /** Internal addresses or CIDR ranges webhook steps may reach (all refused by default). */
  webhookAllow: string[];
  /** A port of its own for `/metrics` (workers have no API); unset: only the API's `/metrics`. */
  metricsPort: number | undefined;
}

export const DEMO_WORKSPACE = fileURLToPath(new URL('../fixtures/workspace', import.meta.url));

export const DEV_KEYS = { write: 'dev-write-key', admin: 'dev-admin-key', read: 'dev-read-key' } as const;

/**
 * Every environment variable Tideline reads, with its default: `tideline --help` prints this list, and
 * docs/configuration.md is generated from it (`npm run docs:config`).
 */
export const ENVIRONMENT = [
  ['PORT', '3000', 'HTTP port of the API'],
  ['HOST', '0.0.0.0', 'interface the API listens on'],
  [
    'TIDELINE_STORE',
    'memory (start), redis or mongodb (api, worker)',
    'memory | redis | mongodb; mongodb when MONGO_URL is set',
  ],
  ['TIDELINE_QUEUE', 'in-process (start), bullmq (api, worker)', 'in-process | bullmq'],
  ['REDIS_URL', 'redis://127.0.0.1:6379', 'one Redis server for the Redis store and BullMQ'],
  [
    'REDIS_CLUSTER_NODES',
    '(unset)',
    'a Redis or Valkey Cluster instead of REDIS_URL: comma-separated host:port seeds (or redis:// and rediss:// URLs, the first one giving the credentials); every Redis connection is then a cluster one',
  ],
  ['MONGO_URL', '(unset)', 'MongoDB connection string (a replica set); selects the MongoDB store'],
  ['MONGO_DB', 'tideline', 'MongoDB database name'],
  ['TIDELINE_PREFIX', 'tideline', 'prefix of every Redis key (store and queues)'],
  ['TIDELINE_DATA_DIR', './data', 'where the embedded store writes its snapshot'],
  ['TIDELINE_SNAPSHOT_INTERVAL', 'PT30S', 'embedded store snapshot interval (ISO 8601 duration)'],
  ['TIDELINE_DEDUPE_HORIZON', 'P30D', 'how long a messageId is remembered'],
  ['TIDELINE_EVENT_RETENTION', 'P90D', 'how long raw events are kept'],
  [
    'TIDELINE_LATE_GRACE',
    'PT24H',
    'events older than this on arrival are stored but flagged late; a conversion window is kept this long after it closes',
  ],
  ['TIDELINE_WORKER_CONCURRENCY', '20', 'ingest jobs a worker process runs at once'],
  [
    'TIDELINE_CHECK_CONCURRENCY',
    '200',
    "users' timer jobs a worker process runs at once (message hand-overs wait on providers)",
  ],
  [
    'TIDELINE_QUEUE_PARTITIONS',
    '1',
    "how many BullMQ queues the ingest batches and users' timers are spread over, each on a hash tag of its own, so that on a Redis Cluster the queues spread over the shards (a user's work goes to the partition of their bucket group); the same value in every process",
  ],
  [
    'TIDELINE_WORKER_PARTITIONS',
    'all',
    'the partitions a worker process consumes, e.g. 0-15 or 0,4,8; every partition must be consumed by some worker',
  ],
  ['TIDELINE_LOCK_DURATION', 'PT30S', "BullMQ job lock; a crashed worker's jobs are retried after it"],
  ['TIDELINE_STALLED_INTERVAL', 'PT30S', 'how often BullMQ looks for jobs of crashed workers'],
  ['TIDELINE_DEMO', 'true (start), false (api, worker)', 'load the demo workspace into an empty store'],
  [
    'TIDELINE_WORKSPACE',
    'the demo workspace (start with the demo), else none',
    'workspace folder whose changed files are published (as new versions) at start',
  ],
  [
    'TIDELINE_WORKSPACE_REFRESH',
    'PT5S',
    'how often a process picks up definitions published by another process',
  ],
  [
    'TIDELINE_SWEEP_INTERVAL',
    'PT1M',
    'how often workers re-add overdue timers lost by the queue: a duration that divides a minute, an hour or a day (PT15S, PT5M), or a cron expression in UTC',
  ],
  ['TIDELINE_TIMEZONE', 'UTC', 'IANA zone for day boundaries of users without a timezone'],
  [
    'TIDELINE_GLOBAL_CONTROL',
    '0',
    'percent of users (0 to 50; profile buckets 0..N*100) who enter no journey: the global control group',
  ],
  ['TIDELINE_WRITE_KEY', DEV_KEYS.write, 'ingest key: the Segment write key (HTTP Basic user name)'],
  ['TIDELINE_ADMIN_KEY', DEV_KEYS.admin, 'manage key: every API, including erasure'],
  ['TIDELINE_READ_KEY', DEV_KEYS.read, 'read key: profiles and reports'],
  [
    'TIDELINE_CHANNELS',
    'channels.json of the workspace',
    'providers (credentials as ${VAR} references) and send policy; see channels/README.md',
  ],
  [
    'TIDELINE_PUBLIC_URL',
    'http://localhost:PORT',
    'where recipients reach the API: click and unsubscribe links',
  ],
  [
    'TIDELINE_LINK_SECRET',
    'derived from the manage key (start only)',
    'signs click and unsubscribe links; required and shared by every api and worker process',
  ],
  [
    'TIDELINE_WEBHOOK_ALLOW',
    '(none)',
    'internal addresses or CIDR ranges webhook steps may reach (loopback, private, link-local and metadata addresses are refused), comma-separated',
  ],
  [
    'TIDELINE_METRICS_PORT',
    '(unset)',
    'serve Prometheus /metrics on this port too, without a key (workers have no API); the API serves /metrics to the read key',
  ],
  [
    'TIDELINE_CORS_ORIGINS',
    '*',
    'browser origins that may post events (comma-separated, e.g. https://shop.example); ingestion routes only',
  ],
  [
    'TIDELINE_RATE_LIMIT',
    '1000/PT1S',
    'ingestion requests per key and window (<requests>/<PTnS|PTnM>, or off); over it: 429 with Retry-After',
  ],
  ['LOG_LEVEL', 'info', 'pino level: debug, info, warn, error, silent'],
  [
    'TIDELINE_FROM_SOURCE',
    '0',
    '1: run the TypeScript sources through tsx (a development dependency) instead of the compiled build in dist/',
  ],
] as const;

export class ConfigError extends Error {}

function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name] ?? fallback;
  if (/^\d+$/.test(raw)) return Number(raw);
  const d = Duration.fromISO(raw);
  if (!d.isValid)
    throw new ConfigError(`${name}=${raw} is not an ISO 8601 duration (e.g. PT30S, P30D) or milliseconds`);
  return d.as('milliseconds');
}

/**
 * TIDELINE_SWEEP_INTERVAL as a cron expression read in UTC: a cron expression as is (5 or 6 fields), or a
 * duration (ISO 8601 or milliseconds) that divides a minute, an hour or a day evenly.
 */
function sweepCron(env: NodeJS.ProcessEnv): string {
  const name = 'TIDELINE_SWEEP_INTERVAL';
  const raw = (env[name] ?? '').trim();
  if (/\s/.test(raw)) {
    try {
      CronExpressionParser.parse(raw, { tz: 'UTC' });
    } catch (error) {
      throw new ConfigError(`${name}=${raw} is not a cron expression: ${(error as Error).message}`);
    }
    return raw;
  }
  const seconds = duration(raw === '' ? {} : env, name, 'PT1M') / 1000;
  // Every n units when n divides the next unit up: `*/n` restarts at each of them, so gaps stay equal.
  const every = (n: number, whole: number) => Number.isInteger(n) && n >= 1 && n < whole && whole % n === 0;
  const step = (n: number) => (n === 1 ? '*' : `*/${n}`);
  if (every(seconds, 60)) return `${step(seconds)} * * * * *`;
  if (every(seconds / 60, 60)) return `${step(seconds / 60)} * * * *`;
  if (every(seconds / 3600, 24)) return `0 ${step(seconds / 3600)} * * *`;
  if (seconds === 86_400) return '0 0 * * *';
  throw new ConfigError(
    `${name}=${env[name]} must divide a minute, an hour or a day evenly (e.g. PT15S, PT1M, PT5M), or be a cron expression`,
  );
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name}=${raw} must be an integer from ${min} to ${max}`);
  return n;
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw))
    throw new ConfigError(`${name}=${raw} must be one of ${allowed.join(', ')}`);
  return raw as T;
}

function corsOrigins(env: NodeJS.ProcessEnv): '*' | string[] {
  const raw = (env.TIDELINE_CORS_ORIGINS ?? '*').trim();
  if (raw === '' || raw === '*') return '*';
  const origins = raw
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || parsed.origin !== origin)
      throw new ConfigError(
        `TIDELINE_CORS_ORIGINS: ${origin} is not an origin (scheme://host[:port], e.g. https://shop.example)`,
      );
  }
  return origins;
}

function clusterNodes(env: NodeJS.ProcessEnv): string[] {
  let seeds: string[];
  try {
    seeds = parseClusterNodes(env.REDIS_CLUSTER_NODES ?? '');
  } catch (error) {
    throw new ConfigError(
      `REDIS_CLUSTER_NODES: ${(error as Error).message} (e.g. 10.0.0.1:6379,10.0.0.2:6379)`,
    );
  }
  // A hash tag in the prefix would put every key in one slot, i.e. on one shard.
  if (seeds.length > 0 && /[{}]/.test(env.TIDELINE_PREFIX ?? ''))
    throw new ConfigError(
      `TIDELINE_PREFIX=${env.TIDELINE_PREFIX}: on a Redis Cluster the prefix takes no { or }; Tideline puts the hash tags in the keys itself`,
    );
  return seeds;
}

/**
 * TIDELINE_QUEUE_PARTITIONS and TIDELINE_WORKER_PARTITIONS. One partition unless told (on a cluster,
 * 32 spread over a few dozen shards; see docs/operations.md). The in-process queue has no shards: one.
 */
export function queuePartitions(env: NodeJS.ProcessEnv, queue: QueueKind): QueuePartitions {
  const count = integer(env, 'TIDELINE_QUEUE_PARTITIONS', 1, 1, MAX_PARTITIONS);
  const raw = env.TIDELINE_WORKER_PARTITIONS ?? '';
  let consumed: number[] | undefined;
  if (raw.trim() !== '' && raw.trim() !== 'all') {
    try {
      consumed = parsePartitionList(raw);
      return new QueuePartitions(queue === 'bullmq' ? count : 1, queue === 'bullmq' ? consumed : undefined);
    } catch (error) {
      throw new ConfigError(
        `TIDELINE_WORKER_PARTITIONS=${raw}: ${(error as Error).message} (TIDELINE_QUEUE_PARTITIONS is ${count}; e.g. 0-${Math.max(0, Math.floor(count / 2) - 1)})`,
      );
    }
  }
  return new QueuePartitions(queue === 'bullmq' ? count : 1);
}

function rateLimit(env: NodeJS.ProcessEnv): RateLimit | null {
  const raw = env.TIDELINE_RATE_LIMIT || '1000/PT1S';
  const parsed = parseRateLimit(raw);
  if (typeof parsed === 'string') throw new ConfigError(`TIDELINE_RATE_LIMIT=${raw} ${parsed}`);
  return parsed;
}

export function loadConfig(mode: Mode, env: NodeJS.ProcessEnv = process.env): Config {
  const embedded = mode === 'embedded';
  const mongoUrl = env.MONGO_URL || undefined;
  const store = oneOf<StoreKind>(
    env,
    'TIDELINE_STORE',
    ['memory', 'redis', 'mongodb'],
    embedded ? 'memory' : mongoUrl ? 'mongodb' : 'redis',
  );
  if (store === 'mongodb' && !mongoUrl) throw new ConfigError('TIDELINE_STORE=mongodb needs MONGO_URL');
  const queue = oneOf<QueueKind>(
    env,
    'TIDELINE_QUEUE',
    ['in-process', 'bullmq'],
    embedded ? 'in-process' : 'bullmq',
  );
  if (!embedded && (queue === 'in-process' || store === 'memory')) {
    throw new ConfigError(
      `the ${mode} process shares work with other processes: it needs TIDELINE_STORE=redis|mongodb and TIDELINE_QUEUE=bullmq`,
    );
  }
  const demo =
    env.TIDELINE_DEMO === undefined || env.TIDELINE_DEMO === '' ? embedded : env.TIDELINE_DEMO === 'true';
  const devKeys: string[] = [];
  const key = (name: string, fallback: string) => {
    if (env[name]) return env[name] as string;
    devKeys.push(name);
    return fallback;
  };
  if (env.TIDELINE_TIMEZONE && !IANAZone.isValidZone(env.TIDELINE_TIMEZONE)) {
    throw new ConfigError(
      `TIDELINE_TIMEZONE=${env.TIDELINE_TIMEZONE} is not an IANA timezone (e.g. Asia/Shanghai)`,
    );
  }
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const workspaceDir = env.TIDELINE_WORKSPACE || (demo ? DEMO_WORKSPACE : undefined);
  const keys = {
    write: key('TIDELINE_WRITE_KEY', DEV_KEYS.write),
    admin: key('TIDELINE_ADMIN_KEY', DEV_KEYS.admin),
    read: key('TIDELINE_READ_KEY', DEV_KEYS.read),
  };
  return {
    port,
    host: env.HOST || '0.0.0.0',
    store,
    queue,
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    redisClusterNodes: clusterNodes(env),
    mongoUrl,
    mongoDb: env.MONGO_DB || 'tideline',
    prefix: env.TIDELINE_PREFIX || 'tideline',
    dataDir: env.TIDELINE_DATA_DIR || './data',
    snapshotIntervalMs: duration(env, 'TIDELINE_SNAPSHOT_INTERVAL', 'PT30S'),
    dedupeHorizonMs: duration(env, 'TIDELINE_DEDUPE_HORIZON', 'P30D'),
    eventRetentionMs: duration(env, 'TIDELINE_EVENT_RETENTION', 'P90D'),
    lateGraceMs: duration(env, 'TIDELINE_LATE_GRACE', 'PT24H'),
    workerConcurrency: integer(env, 'TIDELINE_WORKER_CONCURRENCY', 20, 1, 1000),
    checkConcurrency: integer(env, 'TIDELINE_CHECK_CONCURRENCY', 200, 1, 5000),
    queuePartitions: queuePartitions(env, queue),
    lockDurationMs: duration(env, 'TIDELINE_LOCK_DURATION', 'PT30S'),
    stalledIntervalMs: duration(env, 'TIDELINE_STALLED_INTERVAL', 'PT30S'),
    demo:
      env.TIDELINE_DEMO === undefined || env.TIDELINE_DEMO === '' ? embedded : env.TIDELINE_DEMO === 'true',
    workspaceDir,
    timezone: env.TIDELINE_TIMEZONE || 'UTC',
    globalControlPercent: integer(env, 'TIDELINE_GLOBAL_CONTROL', 0, 0, 50),
    workspaceRefreshMs: duration(env, 'TIDELINE_WORKSPACE_REFRESH', 'PT5S'),
    sweepCron: sweepCron(env),
    logLevel: env.LOG_LEVEL || 'info',
    publicUrl: (env.TIDELINE_PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    linkSecret:
      env.TIDELINE_LINK_SECRET || createHash('sha256').update(`tideline-links:${keys.admin}`).digest('hex'),
    channelsFile: env.TIDELINE_CHANNELS || (workspaceDir ? join(workspaceDir, 'channels.json') : undefined),
    keys,
    corsOrigins: corsOrigins(env),
    rateLimit: rateLimit(env),
    devKeys,
    webhookAllow: webhookAllow(env),
    metricsPort:
      env.TIDELINE_METRICS_PORT === undefined || env.TIDELINE_METRICS_PORT === ''
        ? undefined
        : integer(env, 'TIDELINE_METRICS_PORT', 0, 0, 65535),
  };
}

function webhookAllow(env: NodeJS.ProcessEnv): string[] {
  const entries = (env.TIDELINE_WEBHOOK_ALLOW ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  try {
    allowList(entries);
  } catch (error) {
    throw new ConfigError(`TIDELINE_WEBHOOK_ALLOW: ${(error as Error).message}`);
  }
  return entries;
}
