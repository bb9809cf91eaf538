/**
 * Whether this process can reach what it needs, for the API's `/ready` and its fast 503s: a watch
 * connection to Redis (the store or the queues), pinged every second, and the workers' heartbeats.
 * `/health` says only that the process is alive; `/ready` that it can do work. While Redis is
 * unreachable the API answers 503 with Retry-After at once instead of holding requests on a Redis
 * client that queues commands until it reconnects.
 */
import { randomUUID } from 'node:crypto';
import { connectRedis, type RedisTarget } from '../../engine/adapters/redis-connection.ts';
import type { Logger } from 'pino';
import type { Availability, ReadyReport } from '../../api/availability.ts';
import type { Config } from '../config.ts';
import { redisTarget } from './backends.ts';

/** How often the watch connection pings Redis, and how long a ping may take. */
const PING_EVERY_MS = 1000;
const PING_TIMEOUT_MS = 800;
/** How old the newest worker heartbeat (one a ping) may be for the deployment to be ready. */
export const HEARTBEAT_STALE_MS = 30_000;

/** Always available: the embedded mode keeps its store and queue in the process. */
export const inProcessAvailability: Availability = {
  available: () => true,
  retryAfterSeconds: 1,
  ready: async () => ({ ready: true, checks: { store: 'ok', queue: 'ok', worker: 'ok' } }),
  close: async () => {},
};

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);

/**
 * Watches the deployment's Redis; `worker`: this process beats in the heartbeat set. `needsWorker`:
 * the `/ready` of an API process also wants a recent beat from some worker.
 */
export async function watchRedis(options: {
  target: RedisTarget;
  prefix: string;
  worker: boolean;
  logger: Logger;
}): Promise<Availability> {
  const { target, prefix, worker, logger } = options;
  const redis = connectRedis(target, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: PING_TIMEOUT_MS,
    retryStrategy: () => PING_EVERY_MS,
  });
  const beats = `${prefix}:worker-heartbeats`;
  const me = randomUUID();
  let up = false;
  let lastError = 'not connected yet';
  const set = (value: boolean, why?: string) => {
    if (value !== up) {
      if (value) logger.info({}, 'Redis reachable');
      else logger.warn({ reason: why }, 'Redis unreachable: the API answers 503 until it is back');
    }
    up = value;
    if (why) lastError = why;
  };
  redis.on('ready', () => set(true));
  redis.on('close', () => set(false, 'connection closed'));
  redis.on('error', (error: Error) => set(false, error.message));
  await redis.connect().catch(() => {});

  const beat = async () => {
    const now = Date.now();
    await redis
      .multi()
      .zadd(beats, now, me)
      .zremrangebyscore(beats, 0, now - 10 * HEARTBEAT_STALE_MS)
      .exec();
  };
  const tick = async () => {
    try {
      await withTimeout(redis.ping(), PING_TIMEOUT_MS);
      set(true);
      if (worker) await beat();
    } catch (error) {
      set(false, (error as Error).message);
    }
  };
  await tick();
  const pinger = setInterval(() => void tick(), PING_EVERY_MS);
  pinger.unref();

  return {
    available: () => up,
    retryAfterSeconds: 5,
    async ready() {
      const checks: ReadyReport['checks'] = {};
      try {
        await withTimeout(redis.ping(), PING_TIMEOUT_MS);
        checks.store = 'ok';
        checks.queue = 'ok';
        const newest = await withTimeout(redis.zrevrange(beats, 0, 0, 'WITHSCORES'), PING_TIMEOUT_MS);
        const at = Number(newest[1] ?? 0);
        checks.worker =
          Date.now() - at <= HEARTBEAT_STALE_MS
            ? 'ok'
            : at
              ? `no worker heartbeat for ${Math.round((Date.now() - at) / 1000)} s`
              : 'no worker has reported';
      } catch (error) {
        const why = `Redis unreachable: ${(error as Error).message || lastError}`;
        checks.store = why;
        checks.queue = why;
        checks.worker = 'unknown';
      }
      return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
    },
    async close() {
      clearInterval(pinger);
      if (worker && up) await redis.zrem(beats, me).catch(() => {});
      redis.disconnect();
    },
  };
}

/** The availability of a process of this configuration: Redis watched when anything lives there. */
export async function openAvailability(
  config: Config,
  roles: { worker: boolean },
  logger: Logger,
): Promise<Availability> {
  if (config.store !== 'redis' && config.queue !== 'bullmq') return inProcessAvailability;
  return watchRedis({ target: redisTarget(config), prefix: config.prefix, worker: roles.worker, logger });
}
