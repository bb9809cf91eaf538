/**
 * `tideline migrate`: moves a deployment on one Redis (REDIS_URL, or --from) to the cluster of
 * REDIS_CLUSTER_NODES, into the cluster's layout (every profile's keys in its bucket's slot): profiles
 * with their history, dedupe markers and aliases, their timers (queued again on the cluster), the
 * definitions, the report counters and the channel state. Idempotent and resumable (engine/migrate.ts),
 * with a progress bar and a summary.
 */
import { SingleBar } from 'cli-progress';
import { RedisChannelState } from '../engine/adapters/channel-state/redis.ts';
import { RedisDefinitionStore } from '../engine/adapters/definitions/redis.ts';
import { connectRedis, type RedisClient } from '../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../engine/adapters/redis-slots.ts';
import { RedisStore } from '../engine/adapters/stores/redis.ts';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import { IMPORT_QUEUE } from '../engine/jobs/import.ts';
import { type MoveProgress, type MoveSummary, moveDeployment } from '../engine/migrate.ts';
import { timerQueue } from '../engine/worker.ts';
import type { QueuePartitions } from '../engine/queue-partitions.ts';
import type { Scheduler } from '../ports/scheduler.ts';
import type { Config } from './config.ts';
import { createLogger } from './log.ts';
import { linkSecretKey } from './production.ts';
import { HEARTBEAT_STALE_MS } from './start/availability.ts';
import { describeRedis, openScheduler, redisPrefixes, redisTarget } from './start/backends.ts';

export interface MigrateOptions {
  /** The single Redis to move from (default: REDIS_URL). */
  from?: string;
  /** Profiles per page. */
  page: number;
  /** Draw the progress bar (a terminal); otherwise a line per phase and per 10,000 profiles. */
  progress: boolean;
  /** Called after each step (tests stop a run here). */
  onProgress?: (progress: MoveProgress) => void | Promise<void>;
}

/** The key on the target that holds where a run stopped (`cursor`) or that it finished (`done`). */
export const checkpointKey = (prefix: string): string => `${prefix}:migration`;

/** Why the source is not ready to move, or null: nothing may be writing to it while it moves. */
async function busySource(
  redis: RedisClient,
  queues: Scheduler,
  partitions: QueuePartitions,
  prefix: string,
): Promise<string | null> {
  for (const queue of [INGEST_QUEUE, IMPORT_QUEUE]) {
    const pending = await partitions.pending(queues, queue);
    if (pending > 0)
      return `${pending} ${queue} job(s) are still queued there: stop the API processes and let the workers drain the queue first`;
  }
  const newest = await redis.zrevrange(`${prefix}:worker-heartbeats`, 0, 0, 'WITHSCORES');
  const at = Number(newest[1] ?? 0);
  if (Date.now() - at <= HEARTBEAT_STALE_MS)
    return `a worker reported ${Math.round((Date.now() - at) / 1000)} s ago: stop every worker (SIGTERM) first`;
  return null;
}

export async function runMigrate(
  config: Config,
  options: MigrateOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  if (config.redisClusterNodes.length === 0) {
    err.write('tideline migrate: set REDIS_CLUSTER_NODES to the cluster to move to\n');
    return 2;
  }
  if (options.from !== undefined && !/^rediss?:\/\/[^/]/.test(options.from)) {
    err.write(`tideline migrate: --from ${options.from} is not a redis:// or rediss:// URL\n`);
    return 2;
  }
  if (config.store !== 'redis') {
    err.write(
      `tideline migrate: moves the Redis-only mode (TIDELINE_STORE=redis), not ${config.store}: unset MONGO_URL and TIDELINE_STORE\n`,
    );
    return 2;
  }
  const from: Config = { ...config, redisUrl: options.from ?? config.redisUrl, redisClusterNodes: [] };
  const logger = createLogger('warn');
  const source = connectRedis(redisTarget(from));
  const target = connectRedis(redisTarget(config));
  const sourceQueues = openScheduler(from, logger);
  const targetQueues = openScheduler(config, logger);
  const bar = options.progress
    ? new SingleBar({
        format: 'moving {phase} [{bar}] {percentage}% | {value}/{total} profiles | {eta_formatted} left',
        stream: err,
      })
    : null;
  try {
    const busy = await busySource(source, sourceQueues, from.queuePartitions, config.prefix);
    if (busy) {
      err.write(`tideline migrate: ${describeRedis(from)} is in use: ${busy}\n`);
      return 1;
    }
    const storeOptions = {
      prefix: `${config.prefix}:`,
      eventRetentionMs: config.eventRetentionMs,
      dedupeHorizonMs: config.dedupeHorizonMs,
    };
    const sourceStore = new RedisStore({ ...storeOptions, redis: source });
    const targetStore = new RedisStore({ ...storeOptions, redis: target, buckets: CLUSTER_BUCKETS });
    const sourceDefinitions = new RedisDefinitionStore({
      redis: source,
      prefix: redisPrefixes(from).definitions,
    });
    const targetDefinitions = new RedisDefinitionStore({
      redis: target,
      prefix: redisPrefixes(config).definitions,
    });
    await Promise.all([sourceStore, targetStore, sourceDefinitions, targetDefinitions].map((s) => s.init()));
    const total = await sourceStore.countProfiles();
    err.write(
      `moving ${total} profiles from ${describeRedis(from)} to ${describeRedis(config)} (${CLUSTER_BUCKETS} buckets)\n`,
    );
    bar?.start(total, 0, { phase: 'definitions' });
    let phase = '';
    let reported = 0;
    const started = Date.now();
    const summary: MoveSummary = await moveDeployment({
      source: {
        store: sourceStore,
        definitions: sourceDefinitions,
        channelState: new RedisChannelState(source, config.prefix),
      },
      target: {
        store: targetStore,
        definitions: targetDefinitions,
        channelState: new RedisChannelState(target, config.prefix, { buckets: CLUSTER_BUCKETS }),
        scheduleChecks: timerQueue(targetQueues, Date.now, config.queuePartitions),
        redis: target,
        checkpointKey: checkpointKey(config.prefix),
      },
      page: options.page,
      onProgress: async (progress) => {
        if (bar) bar.update(Math.min(total, progress.profiles), { phase: progress.phase });
        else if (progress.phase !== phase || progress.profiles - reported >= 10_000) {
          err.write(`${progress.phase}: ${progress.profiles} of ${total} profiles\n`);
          reported = progress.profiles;
        }
        phase = progress.phase;
        await options.onProgress?.(progress);
      },
    });
    // The other processes check their link secret against this one.
    const fingerprint = await source.get(linkSecretKey(config.prefix));
    if (fingerprint !== null) await target.set(linkSecretKey(config.prefix), fingerprint, 'NX');
    bar?.stop();
    const s = summary;
    out.write(
      `${s.resumed === null ? '' : 'resumed; '}${s.profiles} profiles moved (${s.events} events, ${s.markers} dedupe markers, ` +
        `${s.aliases} aliases, ${s.timers} timers queued), ${s.alreadyThere} already there; ` +
        `${s.definitionSteps} definition steps; ${s.counterParts} report counter parts added ` +
        `(${s.counterScopes} scopes); ${s.channelKeys} channel state keys merged; ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    bar?.stop();
    await Promise.all([sourceQueues.close(), targetQueues.close()]);
    source.disconnect();
    target.disconnect();
  }
}
