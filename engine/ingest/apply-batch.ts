import {
  mergeMaterialised,
  rematerialise,
  runJourneys,
  commitCounts,
  updateForEvent,
  updateMembership,
} from '../../decide/pipeline.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { InboundMessage } from '../../model/events.ts';
import type { ProfileCommit, Store } from '../../ports/store.ts';
import { planCheck, type ProfileCheck, type ScheduleChecks } from '../jobs/checks.ts';
import { type ApplyOptions, applyMessage, mergeProfile, newProfile } from '../../profiles/apply.ts';
import { type Profile, profileKeyForAnonymous, profileKeyForUser } from '../../model/profile.ts';

export interface BatchResult {
  /** Messages applied to a profile for the first time. */
  applied: number;
  /** Messages skipped because their messageId was already applied. */
  duplicates: number;
  /** Profiles written. */
  profiles: number;
  /** Compare-and-set conflicts that were retried. */
  retries: number;
}

const MAX_ATTEMPTS = 50;
/** How much of a user's stored history a rebuild reads (newest first). */
/** Recent calls read for users who may enter a journey. */
const JOURNEY_HISTORY = 200;

export const HISTORY_LIMIT = 10_000;

export interface ApplyBatchOptions extends ApplyOptions {
  /**
   * The published segments (and the aggregates they read): each new event updates them on its
   * profile, in batch order (identify before track), inside the same compare-and-set commit, so the
   * segment_entered / segment_exited events it raises are stored exactly once.
   */
  workspace?: Workspace;
  /** Decision time (membership of time-relative segments); the worker's clock. */
  now?: () => number;
  /** Adds users' re-check timers (segments that change with time alone); called before the commit. */
  scheduleChecks?: ScheduleChecks;
}

/** Identify and alias calls apply before the other calls of a batch; then event time, then batch order. */
function batchOrder(a: { m: InboundMessage; i: number }, b: { m: InboundMessage; i: number }): number {
  const ta = a.m.type === 'identify' || a.m.type === 'alias' ? 0 : 1;
  const tb = b.m.type === 'identify' || b.m.type === 'alias' ? 0 : 1;
  return ta - tb || a.m.timestamp - b.m.timestamp || a.i - b.i;
}

interface Work {
  key: string;
  userId: string | null;
  messages: InboundMessage[];
  /** Anonymous profiles to fold into this one (ids linked to this user). */
  absorbs: string[];
}

/**
 * Applies a batch of messages to profiles, exactly once per messageId, under any number of
 * concurrent workers: each profile is read, decided and written with compare-and-set, and the
 * applied messageIds are recorded in the same atomic write.
 */
export async function applyBatch(
  store: Store,
  messages: readonly InboundMessage[],
  options: ApplyBatchOptions,
): Promise<BatchResult> {
  const result: BatchResult = { applied: 0, duplicates: 0, profiles: 0, retries: 0 };
  const ordered = messages.map((m, i) => ({ m, i })).sort(batchOrder);

  // Identity first: link anonymous ids to users, then route every message to its profile.
  const links = new Map<string, string>();
  for (const { m } of ordered) {
    if (!m.userId) continue;
    if (m.anonymousId && !links.has(m.anonymousId)) links.set(m.anonymousId, m.userId);
    if (m.type === 'alias' && m.previousId && !links.has(m.previousId)) links.set(m.previousId, m.userId);
  }
  const linked = new Map<string, string>();
  await Promise.all(
    [...links].map(async ([anonymousId, userId]) => {
      linked.set(anonymousId, await store.linkAlias(anonymousId, userId));
    }),
  );
  const unresolved = [
    ...new Set(
      ordered
        .filter(({ m }) => !m.userId && m.anonymousId && !linked.has(m.anonymousId))
        .map(({ m }) => m.anonymousId as string),
    ),
  ];
  for (const [anonymousId, userId] of await store.getAliases(unresolved)) linked.set(anonymousId, userId);

  const work = new Map<string, Work>();
  const workFor = (key: string, userId: string | null): Work => {
    let w = work.get(key);
    if (!w) {
      w = { key, userId, messages: [], absorbs: [] };
      work.set(key, w);
    }
    return w;
  };
  for (const { m } of ordered) {
    const userId = m.userId ?? linked.get(m.anonymousId as string) ?? null;
    const key = userId ? profileKeyForUser(userId) : profileKeyForAnonymous(m.anonymousId as string);
    workFor(key, userId).messages.push(m);
  }
  for (const [anonymousId, userId] of links) {
    if (linked.get(anonymousId) === userId)
      workFor(profileKeyForUser(userId), userId).absorbs.push(anonymousId);
  }

  const pending = [...work.values()];
  const outcome = await commitAll(store, pending, options, result);
  // An anonymous profile written while its id was being linked elsewhere: fold it in now.
  const orphans = outcome.anonymousWrites;
  if (orphans.length > 0) {
    const aliases = await store.getAliases(orphans);
    const late: Work[] = [...aliases].map(([anonymousId, userId]) => ({
      key: profileKeyForUser(userId),
      userId,
      messages: [],
      absorbs: [anonymousId],
    }));
    if (late.length > 0) await commitAll(store, late, options, result);
  }
  return result;
}

async function commitAll(
  store: Store,
  initial: Work[],
  options: ApplyBatchOptions,
  result: BatchResult,
): Promise<{ anonymousWrites: string[] }> {
  const anonymousWrites: string[] = [];
  let pending = initial;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > MAX_ATTEMPTS)
      throw new Error(`gave up after ${MAX_ATTEMPTS} version conflicts on ${pending.length} profiles`);
    const keys = pending.flatMap((w) => [w.key, ...w.absorbs.map(profileKeyForAnonymous)]);
    const messageIds = [...new Set(pending.flatMap((w) => w.messages.map((m) => m.messageId)))];
    const [profiles, applied] = await Promise.all([
      store.getProfiles(keys),
      store.appliedMessageIds(messageIds),
    ]);

    const now = options.now?.() ?? Date.now();
    const workspace = options.workspace;
    // Profiles kept for another workspace (a publication reads something new) are rebuilt from
    // their stored history before anything is decided on them.
    const stale = workspace
      ? [...profiles.values()]
          .filter((p) => p.materialisedFor !== workspace.materialisation)
          .map((p) => p.key)
      : [];
    const histories = new Map(
      await Promise.all(
        stale.map(async (key) => [key, await store.recentEvents(key, HISTORY_LIMIT)] as const),
      ),
    );
    // Users who may enter a journey now: their recent calls tell whether an awaited event already happened.
    const triggers = workspace?.journeys.triggerEvents;
    const journeyHistories = new Map(
      await Promise.all(
        pending
          .filter(
            (w) =>
              !histories.has(w.key) &&
              triggers !== undefined &&
              w.messages.some((m) => m.type === 'track' && triggers.has(m.event as string)),
          )
          // A trigger looks at the calls at or after its own time (an exit or awaited event that
          // arrived first): none older than the batch's oldest message can matter.
          .map(async (w) => {
            const since = Math.min(...w.messages.map((m) => m.timestamp));
            return [w.key, await store.recentEvents(w.key, JOURNEY_HISTORY, since)] as const;
          }),
      ),
    );
    const commits = new Map<string, ProfileCommit>();
    const checks: ProfileCheck[] = [];
    const counts = new Map<string, { applied: number; duplicates: number }>();
    for (const w of pending) {
      const current = profiles.get(w.key);
      // The store hands out a fresh copy per read: it is decided on in place (its version is kept below).
      const profile: Profile = current ?? newProfile(w.key, w.userId);
      const seen = new Set<string>();
      const commit: ProfileCommit = {
        key: w.key,
        expectedVersion: current?.version ?? 0,
        profile,
        events: [],
        messageIds: [],
      };
      if (workspace) {
        const history = histories.get(w.key);
        if (history) commit.events.push(...rematerialise(profile, history, now, workspace));
        else if (!current) profile.materialisedFor = workspace.materialisation;
      }
      let duplicates = 0;
      for (const m of w.messages) {
        if (applied.has(m.messageId) || seen.has(m.messageId)) {
          duplicates++;
          continue;
        }
        seen.add(m.messageId);
        const event = applyMessage(profile, m, options);
        commit.events.push(event);
        if (workspace) commit.events.push(...updateForEvent(profile, event, now, workspace));
        commit.messageIds.push(m.messageId);
      }
      // A new or rebuilt profile is checked against every segment once: one that holds without any of
      // the user's events ("never ordered"), or that was just published, is otherwise never evaluated.
      if (workspace && (!current || histories.has(w.key)) && commit.events.length > 0) {
        const cause = commit.events.find((e) => e.type !== 'internal') ?? {
          messageId: `rebuild:${workspace.materialisation}`,
          timestamp: now,
        };
        const candidates = histories.has(w.key)
          ? workspace.segments
          : workspace.segmentsForNewProfile(commit.events.map((e) => e.event));
        commit.events.push(...updateMembership(profile, candidates, cause, now, workspace));
      }
      // One absorb per commit (the port's unit); further linked ids are folded on later attempts.
      const absorbKey = w.absorbs.map(profileKeyForAnonymous).find((k) => profiles.has(k));
      let absorbed = absorbKey ? profiles.get(absorbKey) : undefined;
      const absorbedHistory = absorbKey ? histories.get(absorbKey) : undefined;
      if (absorbed && absorbedHistory && workspace) {
        absorbed = structuredClone(absorbed);
        rematerialise(absorbed, absorbedHistory, now, workspace);
      }
      if (absorbKey && absorbed) {
        mergeProfile(profile, absorbed);
        if (workspace) {
          commit.events.push(...mergeMaterialised(profile, absorbed, now, workspace));
          const cause = { messageId: `merge:${absorbKey}`, timestamp: profile.lastSeenAt };
          commit.events.push(...updateMembership(profile, workspace.segments, cause, now, workspace));
        }
        commit.absorb = { key: absorbKey, expectedVersion: absorbed.version };
      }
      if (workspace && (workspace.journeys.size > 0 || profile.journeys)) {
        const recent = histories.get(w.key) ?? journeyHistories.get(w.key) ?? [];
        commit.events.push(...runJourneys(profile, commit.events, now, workspace, recent));
      }
      counts.set(w.key, { applied: commit.messageIds.length, duplicates });
      if (commit.messageIds.length === 0 && !commit.absorb) continue;
      if (workspace) {
        const recent = histories.get(w.key) ?? journeyHistories.get(w.key) ?? [];
        commit.counts = commitCounts(profile, commit.events, now, workspace, recent);
        const check = planCheck(profile, now, workspace);
        if (check) checks.push(check);
      }
      profile.version = commit.expectedVersion + 1;
      commits.set(w.key, commit);
    }

    if (checks.length > 0 && options.scheduleChecks) await options.scheduleChecks(checks);

    const { conflicts } = commits.size > 0 ? await store.commit([...commits.values()]) : { conflicts: [] };
    const failed = new Set(conflicts);
    const next: Work[] = [];
    for (const w of pending) {
      const commit = commits.get(w.key);
      const absorbedKey = commit?.absorb?.key;
      if (failed.has(w.key)) {
        next.push(w);
        continue;
      }
      const c = counts.get(w.key);
      if (c) {
        result.applied += c.applied;
        result.duplicates += c.duplicates;
      }
      if (commit) {
        result.profiles++;
        if (w.key.startsWith('a:')) anonymousWrites.push(w.key.slice(2));
      }
      const remaining = w.absorbs.filter((id) => profileKeyForAnonymous(id) !== absorbedKey);
      if (absorbedKey && remaining.length > 0) next.push({ ...w, messages: [], absorbs: remaining });
    }
    result.retries += failed.size;
    pending = next;
    if (failed.size > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 5)));
  }
  return { anonymousWrites };
}
