import { createHash } from 'node:crypto';
import { decideRecompute } from '../../decide/recompute.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Logger } from '../../ports/logger.ts';
import { HISTORY_LIMIT, type Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import { commitProfile } from '../commit/commit-loop.ts';
import { processOnLiveWorkspace, type RegisterJob } from './context.ts';
import { profilePages } from './scan.ts';
import type { Profile } from '../../model/profile.ts';

export const RECOMPUTE_QUEUE = 'recompute';
export const RECOMPUTE_JOB = 'recompute';

/** Queued on every publication; the id makes concurrent publications of one state run it once. */
export interface RecomputeJob {
  /** The live definitions it was queued for (cli/workspace.ts liveFingerprint). */
  live: string;
}

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
    lateGraceMs: number;
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
  for await (const page of profilePages(store)) {
    for (const profile of page) {
      progress.scanned++;
      if (await recomputeOne(store, profile, options)) progress.changed++;
    }
    await options.onProgress?.({ ...progress });
    logger.info(
      { ...progress, segments: workspace.segments.length },
      `recompute: ${progress.scanned} of ${progress.total} profiles scanned`,
    );
  }
  return progress;
}

async function recomputeOne(
  store: Store,
  scanned: Profile,
  options: {
    workspace: Workspace;
    now: () => number;
    lateGraceMs: number;
    scheduleChecks: ScheduleChecks;
    cause: string;
  },
): Promise<boolean> {
  const { workspace } = options;
  const { key } = scanned;
  const history =
    (await store.getProfiles([key])).get(key)?.materialisedFor !== workspace.materialisation
      ? await store.recentEvents(key, HISTORY_LIMIT)
      : null;
  const decision = await commitProfile(
    store,
    key,
    (profile, now) => decideRecompute(profile, history, options.cause, { workspace, now }),
    options,
  );
  return decision !== null;
}

/** Recomputes after a publication, one job at a time. */
export const registerRecomputeJob: RegisterJob = (context) =>
  processOnLiveWorkspace<RecomputeJob>(context, RECOMPUTE_QUEUE, async (job, workspace) => {
    const result = await recomputeAll(context.store, {
      workspace,
      now: context.now,
      lateGraceMs: context.lateGraceMs,
      scheduleChecks: context.scheduleChecks,
      logger: context.logger,
      cause: `recompute:${job.id}`,
      onProgress: (progress) => job.progress({ ...progress }),
    });
    context.logger.info({ job: job.id, ...result }, 'recompute done');
  });
