import type { InboundMessage } from '../../model/events.ts';
import type { Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import { applyBatch } from '../ingest/apply-batch.ts';
import { idsOf, LinkedIds } from '../ingest/linked-ids.ts';
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
 * The messages in chunks of whole users: the ids a message links (identify, alias) share a chunk,
 * and each user's messages are in time order, so every user's history is decided in one piece.
 */
export function importChunks(messages: readonly InboundMessage[]): InboundMessage[][] {
  const linked = new LinkedIds();
  for (const m of messages) linked.link(idsOf(m.userId, m.anonymousId, m.previousId));
  const groups = new Map<string, InboundMessage[]>();
  for (const m of messages) {
    const root = linked.root(idsOf(m.userId, m.anonymousId, m.previousId)[0]);
    let group = groups.get(root);
    if (!group) groups.set(root, (group = []));
    group.push(m);
  }
  const chunks: InboundMessage[][] = [];
  let chunk: InboundMessage[] = [];
  for (const group of groups.values()) {
    if (chunk.length > 0 && chunk.length + group.length > CHUNK) {
      chunks.push(chunk);
      chunk = [];
    }
    chunk.push(...group.sort((a, b) => a.timestamp - b.timestamp));
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

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
