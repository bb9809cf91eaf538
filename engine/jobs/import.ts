import type { InboundMessage } from '../../model/events.ts';
import type { Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import { applyBatch } from '../ingest/apply-batch.ts';
import { idsOf, linkedChunks } from '../ingest/linked-ids.ts';
import { processOnLiveWorkspace, type RegisterJob } from './context.ts';

export const IMPORT_QUEUE = 'import';
export const IMPORT_JOB = 'import';

/** History to take in: the messages, and the time up to which they are history (later ones are live). */
export interface ImportJob {
  messages: InboundMessage[];
  until: number;
}

export interface ImportProgress {
  total: number;
  /** Messages applied so far (imported, or live when after `until`). */
  applied: number;
  duplicates: number;
  profiles: number;
}

/** Messages applied together at most (whole groups of linked ids: a bigger group goes alone). */
const CHUNK = 1_000;

/**
 * The messages in chunks of whole users: the ids a message links (identify, alias) share a chunk, so
 * every user's history is decided in one piece (on their time line, in event-time order).
 */
export const importChunks = (messages: readonly InboundMessage[]): InboundMessage[][] =>
  linkedChunks(messages, (m) => idsOf(m.userId, m.anonymousId, m.previousId), CHUNK);

/**
 * Takes history in: each user's messages build the profile (traits, aggregates, tags, segments,
 * value tiers, lifecycle) as of `until`, with every move stamped at its historical time and flagged
 * imported, while no journey reacts and no conversion is credited; messages after `until` are live.
 */
export async function runImport(
  store: Store,
  job: ImportJob,
  options: {
    workspace: Workspace;
    now: () => number;
    lateGraceMs: number;
    scheduleChecks: ScheduleChecks;
    onProgress?: (progress: ImportProgress) => Promise<void>;
  },
): Promise<ImportProgress> {
  const progress: ImportProgress = { total: job.messages.length, applied: 0, duplicates: 0, profiles: 0 };
  for (const chunk of importChunks(job.messages)) {
    const result = await applyBatch(store, chunk, { ...options, importUntil: job.until });
    progress.applied += result.applied;
    progress.duplicates += result.duplicates;
    progress.profiles += result.profiles;
    await options.onProgress?.({ ...progress });
  }
  return progress;
}

/** Imports, one at a time, on the live workspace. */
export const registerImportJob: RegisterJob = (context) =>
  processOnLiveWorkspace<ImportJob>(context, IMPORT_QUEUE, async (job, workspace) => {
    const result = await runImport(context.store, job.data, {
      workspace,
      now: context.now,
      lateGraceMs: context.lateGraceMs,
      scheduleChecks: context.scheduleChecks,
      onProgress: (progress) => job.progress({ ...progress }),
    });
    context.logger.info({ job: job.id, ...result }, 'import done');
  });
