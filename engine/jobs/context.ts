import type { WebhookCaller } from '../../journeys/webhook.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Job, Scheduler } from '../../ports/scheduler.ts';
import type { Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { QueuePartitions } from '../queue-partitions.ts';

/** What a worker's jobs run against; each job module registers its own queue handler with it. */
export interface WorkerContext {
  scheduler: Scheduler;
  store: Store;
  logger: Logger;
  /** Decision time: the wall clock, or a virtual one in a simulation. */
  now: () => number;
  /** The live workspace, read per job so publications take effect without a restart. */
  workspace: () => Workspace;
  /** Reloads the live workspace (a recompute must see the publication it follows). */
  refreshWorkspace: () => Promise<void>;
  /** Queues users' timers; called before the commit that plans them. */
  scheduleChecks: ScheduleChecks;
  /** Where journeys' messages go. */
  gateway: ChannelGateway;
  /** Makes webhook steps' calls. */
  callWebhook: WebhookCaller;
  /** An event older than this on arrival is stored but drives no decision. */
  lateGraceMs: number;
  /** Ingest jobs run at once. */
  concurrency: number;
  /** Users' timer jobs run at once (they hand messages to providers and wait for them). */
  checkConcurrency: number;
  /** The ingest and timer queues' partitions, and the ones this worker consumes. */
  partitions: QueuePartitions;
}

/** A job module's registration: the handler of its queue. */
export type RegisterJob = (context: WorkerContext) => void;

/**
 * A workspace-wide job (a recompute, a value-model run, a scheduled journey, a journey state change):
 * one at a time, on the live workspace refreshed first, since it must see the publication it follows.
 */
export function processOnLiveWorkspace<T>(
  context: WorkerContext,
  queue: string,
  run: (job: Job<T>, workspace: Workspace) => Promise<void>,
): void {
  context.scheduler.process<T>(
    queue,
    async (job) => {
      await context.refreshWorkspace();
      await run(job, context.workspace());
    },
    { concurrency: 1 },
  );
}
