import type { WebhookCaller } from '../journeys/webhook.ts';
import type { ChannelGateway } from '../ports/channel-gateway.ts';
import type { Logger } from '../ports/logger.ts';
import type { Scheduler } from '../ports/scheduler.ts';
import type { Store } from '../ports/store.ts';
import type { ProfileCheck, ScheduleChecks } from '../workspace/timers.ts';
import { Workspace } from '../workspace/workspace.ts';
import { QueuePartitions } from './queue-partitions.ts';
import { DUE_TIMER_DELAY_MS } from './commit/commit-loop.ts';
import { checkJobs, PROFILE_CHECKS_QUEUE, registerChecksJob } from './jobs/checks.ts';
import type { RegisterJob } from './jobs/context.ts';
import { registerImportJob } from './jobs/import.ts';
import { registerIngestJob } from './jobs/ingest.ts';
import { registerJourneyControlJob } from './jobs/journey-control.ts';
import { registerJourneyScheduleJob } from './jobs/journey-schedule.ts';
import { registerRecomputeJob } from './jobs/recompute.ts';
import { registerSweeperJob } from './jobs/sweeper.ts';
import { registerValueModelJob } from './jobs/value-model.ts';

/** Every queue a worker serves. */
const JOBS: readonly RegisterJob[] = [
  registerIngestJob,
  registerImportJob,
  registerChecksJob,
  registerRecomputeJob,
  registerValueModelJob,
  registerJourneyScheduleJob,
  registerJourneyControlJob,
  registerSweeperJob,
];

export interface WorkerOptions {
  /** An event older than this on arrival is stored but drives no decision. */
  lateGraceMs: number;
  /** Ingest jobs run at once. */
  concurrency: number;
  /** Users' timer jobs run at once (they hand messages to providers and wait for them); default `concurrency`. */
  checkConcurrency?: number;
  /** The live workspace; read per job, so publications take effect without a restart. */
  workspace?: () => Workspace;
  /** Reloads the live workspace from the definitions store (a recompute must see the publication it follows). */
  refreshWorkspace?: () => Promise<void>;
  /** Decision time (default: the wall clock). */
  now?: () => number;
  /** Where journeys' messages go. */
  gateway: ChannelGateway;
  /** Makes webhook steps' calls. */
  callWebhook: WebhookCaller;
  /** How the ingest and timer queues are partitioned, and which partitions this worker consumes (default: one). */
  partitions?: QueuePartitions;
}

/**
 * How users' timers are queued, each in their partition: by the workers, and by `tideline migrate`
 * for the profiles it moves.
 */
export function timerQueue(
  scheduler: Scheduler,
  now: () => number,
  partitions: QueuePartitions = QueuePartitions.single,
): ScheduleChecks {
  // With a queue in Redis, a timer due in a few milliseconds (a message to hand over, stamped with
  // its event's time) could fire before the commit that plans it lands: none fires sooner than
  // DUE_TIMER_DELAY_MS. In process, the commit lands before any timer can fire, and a job costs
  // little: no batches there, so that a simulation runs each user's timer as it always has.
  const bullmq = scheduler.kind === 'bullmq';
  const queueShape = { coalesce: bullmq, minDelayMs: bullmq ? DUE_TIMER_DELAY_MS : 0 };
  return async (checks: ProfileCheck[]) => {
    // A user's timer goes to their partition, where its deterministic id keeps it single.
    const byPartition = new Map<number, ProfileCheck[]>();
    for (const check of checks) {
      const partition = partitions.of(check.key);
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), check]);
    }
    await Promise.all(
      [...byPartition].map(([partition, part]) =>
        scheduler.addBulk(
          partitions.name(PROFILE_CHECKS_QUEUE, partition),
          checkJobs(part, now(), queueShape),
        ),
      ),
    );
  };
}

/**
 * A worker: ingest jobs (batches of messages applied to profiles exactly once), users' timers
 * (lifecycle and segments that change with time alone, journey steps, hand-overs), recomputes after a
 * publication, value-model runs, scheduled journeys, journey state changes, and the sweeper that re-adds
 * overdue timers (the repeatable schedules are set by the caller).
 */
export function startWorker(
  scheduler: Scheduler,
  store: Store,
  options: WorkerOptions,
  logger: Logger,
): void {
  const now = options.now ?? Date.now;
  const empty = new Workspace();
  const partitions = options.partitions ?? QueuePartitions.single;
  const context = {
    scheduler,
    store,
    logger,
    now,
    workspace: options.workspace ?? (() => empty),
    refreshWorkspace: options.refreshWorkspace ?? (async () => {}),
    scheduleChecks: timerQueue(scheduler, now, partitions),
    gateway: options.gateway,
    callWebhook: options.callWebhook,
    lateGraceMs: options.lateGraceMs,
    concurrency: options.concurrency,
    checkConcurrency: options.checkConcurrency ?? options.concurrency,
    partitions,
  };
  for (const register of JOBS) register(context);
}
