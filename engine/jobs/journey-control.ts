import { decideJourneyState } from '../../decide/journeys.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import { commitProfile } from '../commit/commit-loop.ts';
import { processOnLiveWorkspace, type RegisterJob } from './context.ts';
import { profilePages } from './scan.ts';

export const JOURNEY_CONTROL_QUEUE = 'journey-control';
export const JOURNEY_CONTROL_JOB = 'apply';

export interface JourneyControlJob {
  journeyId: string;
}

export interface JourneyControlResult {
  scanned: number;
  /** Users in the journey whose enrollment moved (timers that fell due while paused) or ended (stopped). */
  moved: number;
}

/**
 * After a journey is resumed or stopped: every user in it is walked at once, so timers that fell due
 * while it was paused fire now, and a stop that exits users takes everyone out.
 */
export async function applyJourneyState(
  store: Store,
  journeyId: string,
  options: {
    workspace: Workspace;
    now: () => number;
    lateGraceMs: number;
    scheduleChecks: ScheduleChecks;
    onProgress?: (progress: JourneyControlResult) => Promise<void>;
  },
): Promise<JourneyControlResult> {
  const { workspace } = options;
  const result: JourneyControlResult = { scanned: 0, moved: 0 };
  for await (const page of profilePages(store)) {
    for (const profile of page) {
      result.scanned++;
      if (!profile.journeys?.[journeyId]?.active) continue;
      const decision = await commitProfile(
        store,
        profile.key,
        (read, now) => decideJourneyState(read, { workspace, now }),
        options,
      );
      if ((decision?.events.length ?? 0) > 0) result.moved++;
    }
    await options.onProgress?.({ ...result });
  }
  return result;
}

/** Journeys resumed or stopped: their users walked at once. */
export const registerJourneyControlJob: RegisterJob = (context) =>
  processOnLiveWorkspace<JourneyControlJob>(context, JOURNEY_CONTROL_QUEUE, async (job, workspace) => {
    const result = await applyJourneyState(context.store, job.data.journeyId, {
      workspace,
      now: context.now,
      lateGraceMs: context.lateGraceMs,
      scheduleChecks: context.scheduleChecks,
      onProgress: (progress) => job.progress({ ...progress }),
    });
    context.logger.info({ journeyId: job.data.journeyId, ...result }, 'journey state applied');
  });
