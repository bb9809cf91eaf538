import type { Server } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import type { Logger } from 'pino';
import { createApp } from '../api/app.ts';
import { IngestLog } from '../api/ingest/debug-log.ts';
import { IngestLimiter } from '../api/ingest/rate-limit.ts';
import { KeyRing } from '../api/auth.ts';
import { FileJournal } from '../engine/adapters/journal/file-journal.ts';
import { BullMQScheduler } from '../engine/adapters/schedulers/bullmq.ts';
import { InProcessScheduler } from '../engine/adapters/schedulers/in-process.ts';
import { MemoryStore, type MemoryStoreOptions } from '../engine/adapters/stores/memory.ts';
import { MongoStore } from '../engine/adapters/stores/mongodb.ts';
import { RedisStore } from '../engine/adapters/stores/redis.ts';
import { SystemClock } from '../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE, IngestBuffer, type IngestJob } from '../engine/ingest/ingest-queue.ts';
import { startIngestWorker } from '../engine/ingest/worker.ts';
import { RECOMPUTE_JOB, RECOMPUTE_QUEUE, recomputeJobId } from '../engine/profiles/recompute.ts';
import {
  VALUE_MODEL_JOB,
  VALUE_MODEL_QUEUE,
  VALUE_MODEL_SCHEDULE,
} from '../engine/profiles/value-model-job.ts';
import { SWEEPER_JOB, SWEEPER_QUEUE, SWEEPER_SCHEDULE } from '../engine/profiles/sweeper.ts';
import type { Job, Scheduler } from '../engine/ports/scheduler.ts';
import { JOURNEY_CONTROL_JOB, JOURNEY_CONTROL_QUEUE } from '../engine/profiles/journey-control.ts';
import {
  JOURNEY_SCHEDULE_JOB,
  JOURNEY_SCHEDULE_QUEUE,
  journeyScheduleId,
} from '../engine/profiles/journey-schedule.ts';
import type { Store, StoreOptions } from '../engine/ports/store.ts';
import type { DefinitionKind, DefinitionStore } from '../engine/ports/definitions.ts';
import { MemoryDefinitionStore } from '../engine/adapters/definitions/memory.ts';
import { MongoDefinitionStore } from '../engine/adapters/definitions/mongodb.ts';
import { RedisDefinitionStore } from '../engine/adapters/definitions/redis.ts';
import type { Config } from './config.ts';
import type { RateLimit } from '../api/ingest/rate-limit.ts';
import { liveFingerprint, publishWorkspaceFiles, workspaceFromStore } from './workspace.ts';
import { loadDemo } from './demo.ts';
import { loadChannels } from '../channels/config.ts';
import { Dispatcher } from '../channels/dispatcher.ts';
import { LinkSigner } from '../channels/links.ts';
import { buildProviders, inboundKeys } from '../channels/registry.ts';
import { SandboxChannel } from '../channels/sandbox/sandbox.ts';
import { MemoryChannelState } from '../engine/adapters/channel-state/memory.ts';
import { RedisChannelState } from '../engine/adapters/channel-state/redis.ts';
import type { ChannelState } from '../engine/ports/channel-state.ts';

/**
 * How often a worker sets the repeatable schedules again (the sweeper's, the value model's, the
 * scheduled journeys'): a Redis that lost its contents lost them too, and the sweeper is what recovers
 * the timers it lost.
 */
const SWEEPER_REASSERT_MS = 5 * 60_000;

/** Definitions that decide what profiles hold: publishing one recomputes every profile. */
const PROFILE_KINDS = new Set<DefinitionKind>(['segment', 'tagRule', 'lifecycle']);

export interface Roles {
  api: boolean;
  worker: boolean;
}

export interface RunningEngine {
  store: Store;
  definitions: DefinitionStore;
  scheduler: Scheduler;
  server: Server | null;
  url: string | null;
  /** A user of the demo workspace, when it was loaded. */
  demoUserId: string | null;
  /** Stops taking requests, queues what was accepted, finishes running jobs, flushes the store. */
  stop(): Promise<void>;
}

/** The profile store and the definitions store of the configured backend, sharing its connection. */
async function openBackends(
  config: Config,
  logger: Logger,
  closers: (() => Promise<unknown>)[],
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
    const redis = new Redis(config.redisUrl, { lazyConnect: true });
    await redis.connect();
    closers.push(() => redis.quit());
    try {
      const [, appendonly] = (await redis.config('GET', 'appendonly')) as [string, string];
      if (appendonly !== 'yes') {
        logger.warn(
          { redis: redactUrl(config.redisUrl) },
          'Redis persistence (AOF) is off: with the Redis-only store a Redis restart loses data. Turn on appendonly for production.',
        );
      }
    } catch {
      logger.warn({}, 'could not read the Redis appendonly setting; make sure AOF is on for production');
    }
    return {
      store: new RedisStore({ ...options, redis, prefix: `${config.prefix}:` }),
      definitions: new RedisDefinitionStore({ redis, prefix: `${config.prefix}:` }),
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
/** Rate limits are counted in Redis when processes share one (queue or store), else in this process. */
async function openLimiter(
  config: Config,
  limit: RateLimit,
  closers: (() => Promise<unknown>)[],
): Promise<IngestLimiter> {
  if (config.queue !== 'bullmq' && config.store !== 'redis') return new IngestLimiter(limit);
  const client = new Redis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false });
  await client.connect();
  closers.push(() => client.quit());
  return new IngestLimiter(limit, { client, prefix: config.prefix });
}

async function openChannelState(config: Config, closers: (() => Promise<unknown>)[]): Promise<ChannelState> {
  if (config.queue === 'bullmq') {
    const redis = new Redis(config.redisUrl, { lazyConnect: true, enableAutoPipelining: true });
    await redis.connect();
    closers.push(() => redis.quit());
    return new RedisChannelState(redis, config.prefix);
  }
  const state = await MemoryChannelState.open(
    join(config.dataDir, 'channel-state.json'),
    config.snapshotIntervalMs,
  );
  closers.push(() => state.close());
  return state;
}

function openScheduler(config: Config, logger: Logger): Scheduler {
  // A job that used up its retries is kept (BullMQ's failed set, or the in-process `failed` list);
  // the log names it without its data, which holds personal data.
  const onFailed = (queue: string, job: Job<unknown>, error: unknown) =>
    logger.error(
      {
        queue,
        job: job.id,
        attempts: job.attempt,
        error: error instanceof Error ? error.message : String(error),
      },
      'job failed after its last retry',
    );
  if (config.queue === 'in-process') return new InProcessScheduler({ clock: new SystemClock(), onFailed });
  return new BullMQScheduler({
    connection: { url: config.redisUrl },
    prefix: `${config.prefix}:q`,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
    onFailed,
  });
}

/** `redis://user:secret@host:6379` -> `redis://host:6379`, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

/** Starts the API, the worker, or both (embedded), on the store and queue the config names. */
export async function startEngine(config: Config, roles: Roles, logger: Logger): Promise<RunningEngine> {
  const closers: (() => Promise<unknown>)[] = [];
  const scheduler = openScheduler(config, logger);
  // The in-process queue forgets on a crash: write jobs ahead to a journal in the data folder, and
  // drop the journal's sealed segments once a snapshot taken while the queue was empty is on disk.
  const journal =
    config.store === 'memory' && scheduler instanceof InProcessScheduler
      ? new FileJournal<IngestJob>(join(config.dataDir, 'journal'))
      : undefined;
  const onCapture =
    journal && scheduler instanceof InProcessScheduler
      ? () => {
          if (scheduler.pendingNow(INGEST_QUEUE) > 0) return undefined;
          const sealed = journal.seal();
          return () => journal.drop(sealed);
        }
      : undefined;
  const { store, definitions } = await openBackends(config, logger, closers, onCapture);
  await Promise.all([store.init(), definitions.init()]);
  const replay = journal ? await journal.open() : [];
  if (!journal && config.queue === 'in-process') {
    logger.warn({}, 'the in-process queue keeps accepted events in memory only until they are applied');
  }
  const describe = {
    store: config.store,
    queue: config.queue,
    redis: config.store === 'redis' || config.queue === 'bullmq' ? redactUrl(config.redisUrl) : undefined,
    mongodb: config.store === 'mongodb' ? redactUrl(config.mongoUrl as string) : undefined,
  };
  logger.info({ ...describe, roles }, `store: ${config.store}, queue: ${config.queue}`);

  // The workspace: files published as code (when they changed), then the live versions compiled.
  if (config.workspaceDir) await publishWorkspaceFiles(config.workspaceDir, definitions, Date.now(), logger);
  let workspace = await workspaceFromStore(definitions, config.timezone, config.globalControlPercent);
  let fingerprint = await liveFingerprint(definitions);
  const describeWorkspace = () =>
    logger.info(
      {
        segments: workspace.segments.length,
        tagRules: workspace.tagRules.length,
        aggregates: workspace.aggregates.length,
        journeys: workspace.journeys.size,
      },
      `workspace: ${workspace.segments.length} segments, ${workspace.tagRules.length} tag rules, ${workspace.journeys.size} journeys`,
    );
  describeWorkspace();
  // Workers keep the value model's schedule in step with the workspace (a repeatable job: upserted).
  const scheduleValueModel = async () => {
    if (!roles.worker) return;
    const model = workspace.valueModel;
    if (model)
      await scheduler.repeat(VALUE_MODEL_QUEUE, VALUE_MODEL_SCHEDULE, model.schedule, VALUE_MODEL_JOB, {});
    else await scheduler.unrepeat(VALUE_MODEL_QUEUE, VALUE_MODEL_SCHEDULE);
  };
  await scheduleValueModel();
  // ... and the sweeper's, which re-adds overdue timers the queue lost (an upsert: one for all workers).
  const scheduleSweeper = async () => {
    if (!roles.worker) return;
    const spec = { cron: config.sweepCron, tz: 'UTC' };
    await scheduler.repeat(SWEEPER_QUEUE, SWEEPER_SCHEDULE, spec, SWEEPER_JOB, {});
  };
  await scheduleSweeper();
  // Set again now and then (below): a Redis that lost its contents lost these schedules too.
  const reassertSchedules = () =>
    Promise.all([scheduleSweeper(), scheduleValueModel(), scheduleJourneys()]).catch((error: unknown) =>
      logger.error({ err: error }, 'setting the repeatable schedules failed'),
    );
  const sweeperTimer =
    roles.worker && scheduler.kind === 'bullmq'
      ? setInterval(() => void reassertSchedules(), SWEEPER_REASSERT_MS)
      : undefined;
  sweeperTimer?.unref();
  // ... and each live scheduled journey's firings; a journey no longer live or scheduled stops firing.
  const scheduleJourneys = async () => {
    if (!roles.worker) return;
    for (const { id } of await definitions.list('journey')) {
      const journey = workspace.journeys.scheduled.get(id);
      const trigger = journey?.definition.trigger;
      if (trigger?.type === 'schedule') {
        await scheduler.repeat(
          JOURNEY_SCHEDULE_QUEUE,
          journeyScheduleId(id),
          { cron: trigger.cron, tz: trigger.tz },
          JOURNEY_SCHEDULE_JOB,
          { journeyId: id },
        );
      } else await scheduler.unrepeat(JOURNEY_SCHEDULE_QUEUE, journeyScheduleId(id));
    }
  };
  await scheduleJourneys();
  const refreshWorkspace = async () => {
    const now = await liveFingerprint(definitions);
    if (now === fingerprint) return;
    workspace = await workspaceFromStore(definitions, config.timezone, config.globalControlPercent);
    fingerprint = now;
    describeWorkspace();
    await scheduleValueModel();
    await scheduleJourneys();
  };
  // Publications made through another process's API reach this one within the refresh interval.
  const refreshTimer = setInterval(() => {
    refreshWorkspace().catch((error: unknown) => logger.error({ err: error }, 'workspace refresh failed'));
  }, config.workspaceRefreshMs);
  refreshTimer.unref();

  const channels = await loadChannels(config.channelsFile);
  const channelState = await openChannelState(config, closers);
  const configured = Object.keys(channels.providers);
  logger.info(
    { providers: configured, missing: channels.missing },
    configured.length > 0
      ? `channel providers: ${configured.join(', ')}; other channels go to the sandbox`
      : 'no channel providers configured: every message goes to the sandbox',
  );
  const links = new LinkSigner(config.publicUrl, config.linkSecret);

  if (roles.worker) {
    // Only workers send: API processes open no provider connections.
    const built = buildProviders(channels);
    closers.push(() => built.close());
    const gateway = new Dispatcher({
      state: channelState,
      providers: built.providers,
      policy: channels.policy,
      rates: built.rates,
      ...(built.emailFrom ? { emailFrom: built.emailFrom } : {}),
      templates: (id) => workspace.templates.get(id),
      triggerEvent: async (key, trigger) =>
        (await store.recentEvents(key, 500, trigger.at)).find((e) => e.messageId === trigger.messageId) ??
        null,
      links,
      sandbox: new SandboxChannel(),
      logger,
      timezone: config.timezone,
    });
    startIngestWorker(
      scheduler,
      store,
      {
        lateGraceMs: config.lateGraceMs,
        concurrency: config.workerConcurrency,
        checkConcurrency: config.checkConcurrency,
        workspace: () => workspace,
        refreshWorkspace,
        now: Date.now,
        gateway,
      },
      logger,
    );
  }

  for (const job of replay) await scheduler.add(INGEST_QUEUE, INGEST_JOB, job);
  if (replay.length > 0) logger.info({ jobs: replay.length }, 'replayed the ingest journal');
  const buffer = new IngestBuffer(scheduler, undefined, journal);
  let server: Server | null = null;
  let url: string | null = null;
  let demoUserId: string | null = null;
  const ingestLog = new IngestLog();
  if (roles.api) {
    const keys = new KeyRing([
      { key: config.keys.write, scopes: ['ingest'] },
      { key: config.keys.read, scopes: ['read'] },
      { key: config.keys.admin, scopes: ['manage'] },
    ]);
    const app = createApp({
      keys,
      store,
      definitions,
      onPublished: async (kind) => {
        await refreshWorkspace();
        if (!PROFILE_KINDS.has(kind)) return null;
        // Users who send nothing new still enter or leave what was just published.
        return scheduler.add(
          RECOMPUTE_QUEUE,
          RECOMPUTE_JOB,
          { live: fingerprint },
          { id: recomputeJobId(fingerprint), keep: true },
        );
      },
      onJourneyState: async (journeyId, version) => {
        await refreshWorkspace();
        return scheduler.add(
          JOURNEY_CONTROL_QUEUE,
          JOURNEY_CONTROL_JOB,
          { journeyId },
          { id: `journey-state-${journeyId}-${version}`, keep: true },
        );
      },
      workspace: () => workspace,
      scheduler,
      ingestor: buffer,
      ingestion: {
        corsOrigins: config.corsOrigins,
        limiter: config.rateLimit ? await openLimiter(config, config.rateLimit, closers) : undefined,
        log: ingestLog,
      },
      channels: { state: channelState, links, ...inboundKeys(channels) },
      logger,
      describe: Object.fromEntries(Object.entries(describe).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >,
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.port, config.host, () => resolve(s));
      s.once('error', reject);
    });
    server.keepAliveTimeout = 65_000;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    logger.info({ url }, `API listening on ${url}`);
    if (config.demo && (await store.countProfiles()) === 0) {
      const demo = await loadDemo(buffer);
      demoUserId = demo.userId;
      logger.info({ messages: demo.messages }, 'demo workspace loaded');
    }
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(refreshTimer);
      clearInterval(sweeperTimer);
      ingestLog.close();
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
        });
      }
      await buffer.drain();
      // The in-process queue lives in memory: finish what is queued before the snapshot.
      if (scheduler instanceof InProcessScheduler) await scheduler.idle();
      await scheduler.close();
      // A final snapshot with the queue empty also clears the journal.
      if (store instanceof MemoryStore) await store.snapshot();
      await Promise.all([store.close(), definitions.close()]);
      journal?.close();
      for (const close of closers.reverse()) await close();
    })();
    return stopping;
  };
  return { store, definitions, scheduler, server, url, demoUserId, stop };
}
