import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import type { Logger } from 'pino';
import { MemoryChannelState } from '../../engine/adapters/channel-state/memory.ts';
import { RedisChannelState } from '../../engine/adapters/channel-state/redis.ts';
import { MemoryDefinitionStore } from '../../engine/adapters/definitions/memory.ts';
import { MongoDefinitionStore } from '../../engine/adapters/definitions/mongodb.ts';
import { RedisDefinitionStore } from '../../engine/adapters/definitions/redis.ts';
import { FileJournal } from '../../engine/adapters/journal/file-journal.ts';
import { connectRedis, masters, type RedisTarget } from '../../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS, queueTag } from '../../engine/adapters/redis-slots.ts';
import { BullMQScheduler } from '../../engine/adapters/schedulers/bullmq.ts';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore, type MemoryStoreOptions } from '../../engine/adapters/stores/memory.ts';
import { MongoStore } from '../../engine/adapters/stores/mongodb.ts';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import { SystemClock } from '../../engine/clock.ts';
import { INGEST_QUEUE, type IngestJob } from '../../engine/ingest/ingest-queue.ts';
import { partitionOfQueue } from '../../engine/queue-partitions.ts';
import type { ChannelState } from '../../ports/channel-state.ts';
import type { DefinitionStore } from '../../ports/definitions.ts';
import type { Job, Scheduler } from '../../ports/scheduler.ts';
import type { Store, StoreOptions } from '../../ports/store.ts';
import type { Config } from '../config.ts';

/** The deployment's Redis: a cluster when REDIS_CLUSTER_NODES is set, else REDIS_URL's server. */
export const redisTarget = (config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): RedisTarget => ({
  url: config.redisUrl,
  clusterNodes: config.redisClusterNodes,
});

/** Where the Redis of the deployment is, for logs (no credentials). */
export const describeRedis = (config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): string =>
  config.redisClusterNodes.length > 0
    ? `cluster ${config.redisClusterNodes.map(redactUrl).join(',')}`
    : redactUrl(config.redisUrl);

/**
 * Key prefixes that differ on a cluster: there the definitions keep a slot of their own and BullMQ's
 * queues carry a hash tag (it keeps a queue's keys in one slot): each partition of the ingest and timer
 * queues its own (`queueTag`), so they spread over the shards; the other queues share partition 0's.
 * On one Redis the keys are untagged. `queues` is the prefix of a queue's keys, by queue name.
 */
export function redisPrefixes(
  config: Pick<Config, 'prefix' | 'redisClusterNodes'> & Partial<Pick<Config, 'queuePartitions'>>,
): {
  definitions: string;
  queues: (queue: string) => string;
} {
  const cluster = config.redisClusterNodes.length > 0;
  const partitions = config.queuePartitions?.count ?? 1;
  return {
    definitions: cluster ? `${config.prefix}:{defs}:` : `${config.prefix}:`,
    queues: cluster
      ? (queue) => `${config.prefix}:${queueTag(partitionOfQueue(queue), partitions)}`
      : () => `${config.prefix}:q`,
  };
}

/** What a process closes on the way out, last opened first. */
export type Closers = (() => Promise<unknown>)[];

/** The profile store and the definitions store of the configured backend, sharing its connection. */
export async function openBackends(
  config: Config,
  logger: Logger,
  closers: Closers,
  onCapture?: MemoryStoreOptions['onCapture'],
): Promise<{ store: Store; definitions: DefinitionStore }> {
  const options: StoreOptions = {
    eventRetentionMs: config.eventRetentionMs,
    dedupeHorizonMs: config.dedupeHorizonMs,
  };
  if (config.store === 'memory') {
    return {
      store: new MemoryStore({
        ...options,
        dataDir: config.dataDir,
        snapshotIntervalMs: config.snapshotIntervalMs,
        onCapture,
      }),
      definitions: new MemoryDefinitionStore({ dataDir: config.dataDir }),
    };
  }
  if (config.store === 'redis') {
    const redis = connectRedis(redisTarget(config), { lazyConnect: true });
    await redis.connect();
    closers.push(() => redis.quit());
    try {
      const answers = await Promise.all(masters(redis).map((node) => node.config('GET', 'appendonly')));
      if (answers.some((answer) => (answer as string[])[1] !== 'yes')) {
        logger.warn(
          { redis: describeRedis(config) },
          'Redis persistence (AOF) is off: with the Redis-only store a Redis restart loses data. Turn on appendonly for production.',
        );
      }
    } catch {
      logger.warn({}, 'could not read the Redis appendonly setting; make sure AOF is on for production');
    }
    return {
      store: new RedisStore({
        ...options,
        redis,
        prefix: `${config.prefix}:`,
        ...(config.redisClusterNodes.length > 0 ? { buckets: CLUSTER_BUCKETS } : {}),
      }),
      definitions: new RedisDefinitionStore({ redis, prefix: redisPrefixes(config).definitions }),
    };
  }
  const client = new MongoClient(config.mongoUrl as string);
  await client.connect();
  closers.push(() => client.close());
  return {
    store: new MongoStore({ ...options, client, dbName: config.mongoDb }),
    definitions: new MongoDefinitionStore({ client, dbName: config.mongoDb }),
  };
}

/**
 * Where send claims, caps, suppressions and credits live: in Redis whenever the queues are there
 * (shared by every process), else in this process, snapshotted to the data folder with the store.
 */
export async function openChannelState(config: Config, closers: Closers): Promise<ChannelState> {
  if (config.queue === 'bullmq') {
    const redis = connectRedis(redisTarget(config), { lazyConnect: true, enableAutoPipelining: true });
    await redis.connect();
    closers.push(() => redis.quit());
    const state = new RedisChannelState(
      redis,
      config.prefix,
      config.redisClusterNodes.length > 0 ? { buckets: CLUSTER_BUCKETS } : {},
    );
    await state.renamePlainEntries();
    return state;
  }
  const state = await MemoryChannelState.open(
    join(config.dataDir, 'channel-state.json'),
    config.snapshotIntervalMs,
  );
  closers.push(() => state.close());
  return state;
}

export function openScheduler(config: Config, logger: Logger, failed?: (queue: string) => void): Scheduler {
  // A job that used up its retries is kept (BullMQ's failed set, or the in-process `failed` list);
  // the log names it without its data, which holds personal data.
  const onFailed = (queue: string, job: Job<unknown>, error: unknown) => {
    failed?.(queue);
    logger.error(
      {
        queue,
        job: job.id,
        attempts: job.attempt,
        error: error instanceof Error ? error.message : String(error),
      },
      'job failed after its last retry',
    );
  };
  if (config.queue === 'in-process') return new InProcessScheduler({ clock: new SystemClock(), onFailed });
  return new BullMQScheduler({
    connection: { url: config.redisUrl, clusterNodes: config.redisClusterNodes },
    prefix: redisPrefixes(config).queues,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
    onFailed,
  });
}

/** `redis://user:secret@host:6379` -> `redis://host:6379`, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url.includes('://') ? url : `redis://${url}`);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

/**
 * The in-process queue forgets on a crash: with the embedded store, accepted jobs are written ahead to
 * a journal in the data folder. When a snapshot is captured (every TIDELINE_SNAPSHOT_INTERVAL, whether
 * or not anything changed), the journal is sealed, the jobs not yet applied are written again after
 * the seal, and the sealed segments are dropped once the snapshot is on disk: the journal holds at
 * most one interval's jobs plus the queue.
 */
export function openJournal(config: Config, scheduler: Scheduler) {
  if (config.store !== 'memory' || !(scheduler instanceof InProcessScheduler)) return {};
  const journal = new FileJournal<IngestJob>(join(config.dataDir, 'journal'));
  const onCapture: MemoryStoreOptions['onCapture'] = () => {
    const sealed = journal.seal();
    // Appended and queued in one synchronous step (IngestBuffer), so this is exactly what the
    // snapshot lacks; a job running now is taken again at a replay, where it changes nothing twice.
    for (const job of scheduler.pendingData(INGEST_QUEUE)) journal.append(job as IngestJob);
    return () => journal.drop(sealed);
  };
  return { journal, onCapture };
}
