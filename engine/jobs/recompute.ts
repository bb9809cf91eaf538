import { createHash } from 'node:crypto';
import { decideRecompute } from '../../decide/recompute.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Logger } from '../../ports/logger.ts';
import { HISTORY_LIMIT, type Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import { commitDecisions } from '../commit/commit-loop.ts';
import type { RegisterJob } from './context.ts';

export const RECOMPUTE_QUEUE = 'recompute';
export const RECOMPUTE_JOB = 'recompute';

/** Queued on every publication; the id makes concurrent publications of one state run it once. */
export interface RecomputeJob {
  /** The live definitions it was queued for (cli/workspace.ts liveFingerprint). */
  live: string;
}

const PAGE = 500;

export interface RecomputeProgress {
  /** Profiles when the job started (new ones may join while it runs). */
  total: number;
  scanned: number;
  changed: number;
}

/** The job id for a state of the live definitions: one job per publication, whoever queues it. */
export function recomputeJobId(live: string): string {
  return `recompute-${createHash('sha1').update(live).digest('hex').slice(0, 16)}`;
}

/**
 * Brings every profile in line with the workspace after a publication: rebuilds what the profile
 * keeps from its stored history when the workspace reads something new, and re-evaluates every
 * segment. Users who send nothing new enter (or leave) the published segment here.
 */
export async function recomputeAll(
  store: Store,
  options: {
    workspace: Workspace;
    now: () => number;
    scheduleChecks: ScheduleChecks;
    logger: Logger;
    cause: string;
    /** Called after each page of profiles. */
    onProgress?: (progress: RecomputeProgress) => Promise<void>;
  },
): Promise<RecomputeProgress> {
  const { workspace, logger } = options;
  const progress: RecomputeProgress = { total: await store.countProfiles(), scanned: 0, changed: 0 };
  await options.onProgress?.({ ...progress });
  let cursor: string | null = null;
  do {
    const page = await store.scanProfiles(cursor, PAGE);
    for (const profile of page.profiles) {
      progress.scanned++;
      if (await recomputeOne(store, profile.key, options)) progress.changed++;
    }
    cursor = page.cursor;
    await options.onProgress?.({ ...progress });
    logger.info(
      { ...progress, segments: workspace.segments.length },
      `recompute: ${progress.scanned} of ${progress.total} profiles scanned`,
    );
  } while (cursor !== null);
  return progress;
}

async function recomputeOne(
  store: Store,
  key: string,
  options: { workspace: Workspace; now: () => number; scheduleChecks: ScheduleChecks; cause: string },
): Promise<boolean> {
  const { workspace } = options;
  const history =
    (await store.getProfiles([key])).get(key)?.materialisedFor !== workspace.materialisation
      ? await store.recentEvents(key, HISTORY_LIMIT)
      : null;
  const { written } = await commitDecisions(
    store,
    [{ key }],
    {
      decide: ({ key }, profiles, now) => {
        const profile = profiles.get(key);
        return profile ? decideRecompute(profile, history, options.cause, { workspace, now }) : null;
      },
    },
    options,
  );
  return written > 0;
}

/** Recomputes after a publication, one job at a time. */
export const registerRecomputeJob: RegisterJob = ({
  scheduler,
  store,
  logger,
  now,
  workspace,
  refreshWorkspace,
  scheduleChecks,
}) =>
  scheduler.process<RecomputeJob>(
    RECOMPUTE_QUEUE,
    async (job) => {
      await refreshWorkspace();
      const result = await recomputeAll(store, {
        workspace: workspace(),
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
