import { queuePartitions } from '../cli/config.ts';
import { redisPrefixes } from '../cli/start/backends.ts';
import { connectRedis, isCluster, type RedisTarget } from '../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../engine/adapters/redis-slots.ts';
import { BullMQScheduler } from '../engine/adapters/schedulers/bullmq.ts';
import { RedisStore } from '../engine/adapters/stores/redis.ts';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import { QueuePartitions } from '../engine/queue-partitions.ts';
import type { Profile } from '../model/profile.ts';
import { waitFor } from './engine.ts';
import {
  REDIS_TARGET,
  REDIS_URL,
  removeKeys,
  spawnTideline,
  type TidelineProcess,
  uniquePrefix,
} from './processes.ts';

const DAY = 86_400_000;

/**
 * What processes running with TIDELINE_PREFIX `prefix` keep in Redis: their store (keys `<prefix>:`)
 * and their queues (`<prefix>:q:`, or `<prefix>:{<partition's tag>}:` on a cluster), seen from the test
 * or bench. On the cluster of REDIS_CLUSTER_NODES when it is set, as the spawned processes are.
 */
export async function redisView(
  prefix: string,
  target: RedisTarget = REDIS_TARGET,
  partitions: QueuePartitions = queuePartitions({}, 'bullmq'),
) {
  const clusterNodes = target.clusterNodes ?? [];
  const redis = connectRedis(target);
  const store = new RedisStore({
    redis,
    prefix: `${prefix}:`,
    eventRetentionMs: 365 * DAY,
    dedupeHorizonMs: 30 * DAY,
    ...(isCluster(target) ? { buckets: CLUSTER_BUCKETS } : {}),
  });
  await store.init();
  const queue = new BullMQScheduler({
    connection: { url: target.url ?? REDIS_URL, clusterNodes },
    prefix: redisPrefixes({ prefix, redisClusterNodes: [...clusterNodes], queuePartitions: partitions })
      .queues,
  });
  return { redis, store, queue, partitions };
}

/**
 * Production processes (API + workers, Redis store, BullMQ) on a fresh key prefix, plus a view into their
 * Redis: REDIS_URL's, REDIS_CLUSTER_NODES' or `target`'s.
 */
export async function startCluster(
  workers: number,
  extraEnv: Record<string, string> = {},
  target: RedisTarget = REDIS_TARGET,
) {
  const prefix = uniquePrefix('mp');
  const env = {
    TIDELINE_STORE: 'redis',
    TIDELINE_QUEUE: 'bullmq',
    TIDELINE_PREFIX: prefix,
    TIDELINE_WORKER_CONCURRENCY: '20',
    ...(target.url ? { REDIS_URL: target.url } : {}),
    REDIS_CLUSTER_NODES: (target.clusterNodes ?? []).join(','),
    ...extraEnv,
  };
  const api = spawnTideline('api', env);
  const workerProcesses: TidelineProcess[] = [];
  const addWorker = () => {
    const w = spawnTideline('worker', env);
    workerProcesses.push(w);
    return w;
  };
  for (let i = 0; i < workers; i++) addWorker();
  // As the processes see them: their environment is this one over the test's own.
  const partitions = queuePartitions({ ...process.env, ...env }, 'bullmq');
  const { redis, store, queue } = await redisView(prefix, target, partitions);
  const queuePrefix = redisPrefixes({
    prefix,
    redisClusterNodes: [...(target.clusterNodes ?? [])],
    queuePartitions: partitions,
  }).queues;
  const url = await api.url;
  return {
    url,
    /** The processes' TIDELINE_PREFIX: their store keys are `<prefix>:`. */
    prefix,
    /** The processes' queue partitions (TIDELINE_QUEUE_PARTITIONS, or its default). */
    partitions,
    /** What the keys of each partition of `queue` start with (`<prefix>:q:<queue>`, tagged on a cluster). */
    queueKeys: (queue: string) => partitions.names(queue).map((name) => `${queuePrefix(name)}:${name}`),
    store,
    workers: workerProcesses,
    addWorker,
    drained: (timeoutMs = 120_000) =>
      waitFor(
        async () => (await partitions.pending(queue, INGEST_QUEUE)) === 0,
        timeoutMs,
        'the ingest queue to drain',
      ),
    async profiles(stream: {
      userIds: readonly string[];
      anonymousIds: readonly string[];
    }): Promise<Map<string, Omit<Profile, 'version' | 'checkAt' | 'decidedAt'>>> {
      const keys = [...stream.userIds.map((u) => `u:${u}`), ...stream.anonymousIds.map((a) => `a:${a}`)];
      const found = await store.getProfiles(keys);
      // Compared: the user's state. Not compared: the commit counter, and when the user's re-check timer is
      // set (an earlier timer may stay set after the next check moved later; it fires and does nothing).
      return new Map(
        [...found].map(([k, { version: _version, checkAt: _checkAt, decidedAt: _decidedAt, ...rest }]) => [
          k,
          rest,
        ]),
      );
    },
    async close() {
      await Promise.all([api.stop(), ...workerProcesses.map((w) => w.stop())]);
      await queue.close();
      await redis.quit();
      await removeKeys(prefix);
    },
  };
}
