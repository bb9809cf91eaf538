import {
  checkJobs,
  PROFILE_CHECK_BATCH_JOB,
  PROFILE_CHECKS_QUEUE,
  type ProfileCheckBatch,
  runProfileCheck,
  runProfileChecks,
} from './jobs/checks.ts';
import { DUE_TIMER_DELAY_MS } from './commit/commit-loop.ts';
import type { ProfileCheck } from '../workspace/timers.ts';
import type { Logger } from '../ports/logger.ts';
import { RECOMPUTE_QUEUE, type RecomputeJob, recomputeAll } from './jobs/recompute.ts';
import { runValueModel, VALUE_MODEL_QUEUE } from './jobs/value-model.ts';
import { applyJourneyState, JOURNEY_CONTROL_QUEUE, type JourneyControlJob } from './jobs/journey-control.ts';
import {
  firingTime,
  JOURNEY_SCHEDULE_QUEUE,
  type JourneyScheduleJob,
  runScheduledJourney,
} from './jobs/journey-schedule.ts';
import { sweepOverdue, SWEEPER_QUEUE } from './jobs/sweeper.ts';
import type { Scheduler } from '../ports/scheduler.ts';
import type { Store } from '../ports/store.ts';
import { Workspace } from '../workspace/workspace.ts';
import type { WebhookCaller } from '../journeys/webhook.ts';
import { httpWebhookCaller } from './adapters/webhooks/http.ts';
import { SandboxChannel } from '../channels/sandbox/sandbox.ts';
import type { ChannelGateway } from '../ports/channel-gateway.ts';
import { type ApplyBatchOptions, applyBatch } from './ingest/apply-batch.ts';
import { INGEST_QUEUE, type IngestJob } from './ingest/ingest-queue.ts';

export interface IngestWorkerOptions extends Omit<ApplyBatchOptions, 'scheduleChecks' | 'workspace'> {
  concurrency: number;
  /** Users' timer jobs run at once (they hand messages to providers and wait for them); default `concurrency`. */
  checkConcurrency?: number;
  /** The live workspace; read per job, so publications take effect without a restart. */
  workspace?: () => Workspace;
  /** Webhook steps' HTTP calls (default: real POSTs). */
  callWebhook?: WebhookCaller;
  /** Where journeys' messages go (default: the sandbox channel, which records them). */
  gateway?: ChannelGateway;
  /** Reloads the live workspace from the definitions store (a recompute must see the publication it follows). */
  refreshWorkspace?: () => Promise<void>;
}

/**
 * A worker's queues: ingest jobs (batches of messages applied to profiles exactly once), users'
 * re-check timers (lifecycle and segments that change with time alone), recomputes after a
 * publication, and the sweeper that re-adds overdue timers (its schedule is set by the caller).
 */
export function startIngestWorker(
  scheduler: Scheduler,
  store: Store,
  options: IngestWorkerOptions,
  logger: Logger,
): void {
  const now = options.now ?? Date.now;
  const empty = new Workspace();
  const workspaceOf = options.workspace ?? (() => empty);
  const gateway = options.gateway ?? new SandboxChannel();
  // With a queue in Redis, a timer due in a few milliseconds (a message to hand over, stamped with
  // its event's time) could fire before the commit that plans it lands: none fires sooner than
  // DUE_TIMER_DELAY_MS. In process, the commit lands before any timer can fire, and a job costs
  // little: no batches there, so that a simulation runs each user's timer as it always has.
  const bullmq = scheduler.kind === 'bullmq';
  const queueShape = { coalesce: bullmq, minDelayMs: bullmq ? DUE_TIMER_DELAY_MS : 0 };
  const scheduleChecks = async (checks: ProfileCheck[]) => {
    await scheduler.addBulk(PROFILE_CHECKS_QUEUE, checkJobs(checks, now(), queueShape));
  };
  scheduler.process<IngestJob>(
    INGEST_QUEUE,
    async (job) => {
      const result = await applyBatch(store, job.data.messages, {
        lateGraceMs: options.lateGraceMs,
        now,
        workspace: workspaceOf(),
        scheduleChecks,
      });
      logger.debug({ job: job.id, attempt: job.attempt, ...result }, 'batch applied');
    },
    { concurrency: options.concurrency },
  );
  scheduler.process<RecomputeJob>(
    RECOMPUTE_QUEUE,
    async (job) => {
      await options.refreshWorkspace?.();
      const result = await recomputeAll(store, {
        workspace: workspaceOf(),
        now,
        scheduleChecks,
        logger,
        cause: `recompute:${job.id}`,
        onProgress: (progress) => job.progress({ ...progress }),
      });
      logger.info({ job: job.id, ...result }, 'recompute done');
    },
    { concurrency: 1 },
  );
  scheduler.process(
    VALUE_MODEL_QUEUE,
    async () => {
      await options.refreshWorkspace?.();
      await runValueModel(store, workspaceOf(), now(), { logger, scheduleChecks });
    },
    { concurrency: 1 },
  );
  scheduler.process<JourneyScheduleJob>(
    JOURNEY_SCHEDULE_QUEUE,
    async (job) => {
      await options.refreshWorkspace?.();
      // A firing's time names the run; a job added by hand runs "now" (and is its own run).
      const runAt = firingTime(job.id) ?? now();
      await runScheduledJourney(store, job.data.journeyId, runAt, {
        workspace: workspaceOf(),
        now,
        scheduleChecks,
        logger,
        onProgress: (progress) => job.progress({ ...progress }),
      });
    },
    { concurrency: 1 },
  );
  scheduler.process<JourneyControlJob>(
    JOURNEY_CONTROL_QUEUE,
    async (job) => {
      await options.refreshWorkspace?.();
      const result = await applyJourneyState(store, job.data.journeyId, {
        workspace: workspaceOf(),
        now,
        scheduleChecks,
        onProgress: (progress) => job.progress({ ...progress }),
      });
      logger.info({ journeyId: job.data.journeyId, ...result }, 'journey state applied');
    },
    { concurrency: 1 },
  );
  scheduler.process<ProfileCheck | ProfileCheckBatch>(
    PROFILE_CHECKS_QUEUE,
    (job) => {
      const checkOptions = {
        workspace: workspaceOf(),
        now,
        scheduleChecks,
        callWebhook: options.callWebhook ?? httpWebhookCaller,
        gateway,
      };
      return job.name === PROFILE_CHECK_BATCH_JOB
        ? runProfileChecks(store, (job.data as ProfileCheckBatch).checks, checkOptions)
        : runProfileCheck(store, job.data as ProfileCheck, checkOptions);
    },
    { concurrency: options.checkConcurrency ?? options.concurrency },
  );
  scheduler.process(
    SWEEPER_QUEUE,
    async (job) => {
      const count = await sweepOverdue(store, scheduleChecks, now());
      if (count > 0)
        logger.info({ job: job.id, timers: count }, `sweeper re-enqueued ${count} overdue timers`);
    },
    { concurrency: 1 },
  );
}
