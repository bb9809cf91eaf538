import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { InProcessScheduler } from '../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../engine/adapters/stores/memory.ts';
import { webhookCaller } from '../engine/adapters/webhooks/http.ts';
import { INGEST_JOB, INGEST_QUEUE, IngestBuffer } from '../engine/ingest/ingest-queue.ts';
import { startWorker } from '../engine/worker.ts';
import type { DefinitionStore } from '../ports/definitions.ts';
import type { Scheduler } from '../ports/scheduler.ts';
import type { Store } from '../ports/store.ts';
import type { Config } from './config.ts';
import { loadDemo } from './demo.ts';
import { startApi } from './start/api.ts';
import { openAvailability } from './start/availability.ts';
import { startMetrics } from './start/metrics.ts';
import {
  type Closers,
  describeRedis,
  openBackends,
  openJournal,
  openScheduler,
  redactUrl,
} from './start/backends.ts';
import { openChannels, openGateway } from './start/channels.ts';
import { openLiveWorkspace } from './start/live-workspace.ts';
import { keepSchedules } from './start/schedules.ts';

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

/**
 * Starts the API, the worker, or both (embedded), on the store and queue the config names: open the
 * backends, the live workspace and its schedules, the channels, then the worker role and the API role.
 */
export async function startEngine(config: Config, roles: Roles, logger: Logger): Promise<RunningEngine> {
  const closers: Closers = [];
  // Jobs fail only once workers run, after the metrics exist.
  const scheduler = openScheduler(config, logger, (queue) => metrics.jobFailed(queue));
  const metrics = await startMetrics(config, scheduler, closers);
  const { journal, onCapture } = openJournal(config, scheduler);
  const availability = await openAvailability(config, roles, logger);
  closers.push(() => availability.close());
  const { store, definitions } = await openBackends(config, logger, closers, onCapture);
  await Promise.all([store.init(), definitions.init()]);
  const replay = journal ? await journal.open() : [];
  if (!journal && config.queue === 'in-process') {
    logger.warn({}, 'the in-process queue keeps accepted events in memory only until they are applied');
  }
  const describe = {
    store: config.store,
    queue: config.queue,
    redis: config.store === 'redis' || config.queue === 'bullmq' ? describeRedis(config) : undefined,
    mongodb: config.store === 'mongodb' ? redactUrl(config.mongoUrl as string) : undefined,
  };
  logger.info({ ...describe, roles }, `store: ${config.store}, queue: ${config.queue}`);

  // Workers keep the repeatable schedules in step with the workspace.
  let schedules: ReturnType<typeof keepSchedules> | undefined;
  const workspace = await openLiveWorkspace(config, definitions, logger, async () => {
    await schedules?.set();
  });
  if (roles.worker) {
    schedules = keepSchedules(config, scheduler, definitions, () => workspace.current(), logger);
    await schedules.set();
  }

  const channels = await openChannels(config, closers, logger, (state) => metrics.watchSends(state));
  if (roles.worker) {
    startWorker(
      scheduler,
      store,
      {
        lateGraceMs: config.lateGraceMs,
        concurrency: config.workerConcurrency,
        checkConcurrency: config.checkConcurrency,
        workspace: () => workspace.current(),
        refreshWorkspace: async () => {
          await workspace.refresh();
        },
        now: Date.now,
        gateway: openGateway(config, channels, store, () => workspace.current(), closers, logger),
        callWebhook: webhookCaller({ allow: config.webhookAllow }),
        partitions: config.queuePartitions,
      },
      logger,
    );
  }

  for (const job of replay) await scheduler.add(INGEST_QUEUE, INGEST_JOB, job);
  if (replay.length > 0) logger.info({ jobs: replay.length }, 'replayed the ingest journal');
  const buffer = new IngestBuffer(scheduler, undefined, journal, config.queuePartitions);
  let server: Server | null = null;
  let url: string | null = null;
  let closeApi = () => {};
  let demoUserId: string | null = null;
  if (roles.api) {
    const described = Object.fromEntries(
      Object.entries(describe).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    ({
      server,
      url,
      close: closeApi,
    } = await startApi(
      config,
      {
        store,
        definitions,
        scheduler,
        buffer,
        workspace,
        channels,
        describe: described,
        availability,
        metrics,
        // Embedded: a snapshot without the user at once, which also drops the journal holding their
        // messages (the channel state writes its file itself).
        ...(store instanceof MemoryStore ? { erased: () => store.snapshot() } : {}),
      },
      closers,
      logger,
    ));
    if (config.demo && (await store.countProfiles()) === 0) {
      const demo = await loadDemo(scheduler);
      demoUserId = demo.userId;
      logger.info({ messages: demo.messages, import: demo.importId }, 'demo history importing');
    }
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      workspace.stop();
      schedules?.stop();
      closeApi();
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
