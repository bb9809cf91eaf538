import { SCHEDULED_RUN } from '../../journeys/journey-set.ts';
import { decideScheduledRun } from '../../decide/journeys.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { StoredEvent } from '../../model/events.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import { commitProfile } from '../commit/commit-loop.ts';
import { processOnLiveWorkspace, type RegisterJob } from './context.ts';
import { profilePages } from './scan.ts';

export const JOURNEY_SCHEDULE_QUEUE = 'journey-schedules';
export const JOURNEY_SCHEDULE_JOB = 'run';

export interface JourneyScheduleJob {
  journeyId: string;
}

/** The repeatable schedule's id for a journey. */
export const journeyScheduleId = (journeyId: string): string => `journey:${journeyId}`;

/** The firing time of a repeat job (`repeat:<schedule id>:<ms>`), or null for a job added by hand. */
export function firingTime(jobId: string): number | null {
  const match = /:(\d+)$/.exec(jobId);
  return jobId.startsWith('repeat:') && match ? Number(match[1]) : null;
}

export interface ScheduledRunResult {
  audience: number;
  entered: number;
}

/**
 * One firing of a scheduled journey: every member of its audience segment meets the trigger
 * `journey_scheduled` named after the journey and the firing time. The name makes the run
 * idempotent: a user enrols at most once per firing, however many workers run it.
 */
export async function runScheduledJourney(
  store: Store,
  journeyId: string,
  runAt: number,
  options: {
    workspace: Workspace;
    now: () => number;
    lateGraceMs: number;
    scheduleChecks: ScheduleChecks;
    logger: Logger;
    onProgress?: (progress: ScheduledRunResult) => Promise<void>;
  },
): Promise<ScheduledRunResult> {
  const { workspace } = options;
  const result: ScheduledRunResult = { audience: 0, entered: 0 };
  const journey = workspace.journeys.scheduled.get(journeyId);
  if (!journey) return result;
  const segment = journey.definition.audience?.segment;
  const trigger: StoredEvent = {
    messageId: `schedule:${journeyId}:${runAt}`,
    type: 'internal',
    event: SCHEDULED_RUN,
    properties: { journeyId, runAt: new Date(runAt).toISOString() },
    timestamp: runAt,
    receivedAt: runAt,
  };
  for await (const page of profilePages(store, segment === undefined ? {} : { segment })) {
    for (const { key } of page) {
      result.audience++;
      const decision = await commitProfile(
        store,
        key,
        (profile, now) => decideScheduledRun(profile, trigger, { workspace, now }),
        options,
      );
      if (decision?.events.some((e) => e.event === 'journey_entered')) result.entered++;
    }
    await options.onProgress?.({ ...result });
  }
  options.logger.info(
    { journeyId, runAt, ...result },
    `scheduled journey ${journeyId}: ${result.entered} entered`,
  );
  return result;
}

/** Scheduled journeys' firings. */
export const registerJourneyScheduleJob: RegisterJob = (context) =>
  processOnLiveWorkspace<JourneyScheduleJob>(context, JOURNEY_SCHEDULE_QUEUE, async (job, workspace) => {
    // A firing's time names the run; a job added by hand runs "now" (and is its own run).
    const runAt = firingTime(job.id) ?? context.now();
    await runScheduledJourney(context.store, job.data.journeyId, runAt, {
      workspace,
      now: context.now,
      lateGraceMs: context.lateGraceMs,
      scheduleChecks: context.scheduleChecks,
      logger: context.logger,
      onProgress: (progress) => job.progress({ ...progress }),
    });
  });
