import { decideJourneyState } from '../../decide/journeys.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import { commitDecisions } from '../commit/commit-loop.ts';
import type { RegisterJob } from './context.ts';

export const JOURNEY_CONTROL_QUEUE = 'journey-control';
export const JOURNEY_CONTROL_JOB = 'apply';

export interface JourneyControlJob {
  journeyId: string;
}

const PAGE = 500;

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
    scheduleChecks: ScheduleChecks;
    onProgress?: (progress: JourneyControlResult) => Promise<void>;
  },
): Promise<JourneyControlResult> {
  const result: JourneyControlResult = { scanned: 0, moved: 0 };
  let cursor: string | null = null;
  do {
    const page = await store.scanProfiles(cursor, PAGE);
    for (const profile of page.profiles) {
      result.scanned++;
      if (profile.journeys?.[journeyId]?.active && (await walkOne(store, profile.key, options)))
        result.moved++;
    }
    cursor = page.cursor;
    await options.onProgress?.({ ...result });
  } while (cursor !== null);
  return result;
}

async function walkOne(
  store: Store,
  key: string,
  options: { workspace: Workspace; now: () => number; scheduleChecks: ScheduleChecks },
): Promise<boolean> {
  let moved = false;
  await commitDecisions(
    store,
    [{ key }],
    {
      decide: ({ key }, profiles, now) => {
        const profile = profiles.get(key);
        return profile ? decideJourneyState(profile, { workspace: options.workspace, now }) : null;
      },
      landed: (_, decision) => {
        moved = (decision?.events.length ?? 0) > 0;
      },
    },
    options,
  );
  return moved;
}

/** Journeys resumed or stopped: their users walked at once. */
export const registerJourneyControlJob: RegisterJob = ({
  scheduler,
  store,
  logger,
  now,
  workspace,
  refreshWorkspace,
  scheduleChecks,
}) =>
  scheduler.process<JourneyControlJob>(
    JOURNEY_CONTROL_QUEUE,
    async (job) => {
      await refreshWorkspace();
      const result = await applyJourneyState(store, job.data.journeyId, {
        workspace: workspace(),
        now,
        scheduleChecks,
        onProgress: (progress) => job.progress({ ...progress }),
      });
      logger.info({ journeyId: job.data.journeyId, ...result }, 'journey state applied');
    },
    { concurrency: 1 },
  );
