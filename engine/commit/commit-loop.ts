import type { Decision } from '../../decide/decision.ts';
import { commitCounts } from '../../decide/pipeline.ts';
import type { Profile } from '../../model/profile.ts';
import type { ProfileCommit, Store } from '../../ports/store.ts';
import { planCheck, type ProfileCheck, type ScheduleChecks } from '../../workspace/timers.ts';
import type { Workspace } from '../../workspace/workspace.ts';

const MAX_ATTEMPTS = 50;

/**
 * Timers are queued before the commit that plans them (a commit never records a timer that does not
 * exist); one already due waits this long, so that its job finds that commit landed (with a Redis
 * queue, no timer fires sooner than this after it was queued).
 */
export const DUE_TIMER_DELAY_MS = 250;

/** A piece of work on one profile (its store key). */
export interface ProfileWork {
  key: string;
}

/** How one cause of profile changes reads and decides; the loop does the rest. */
export interface CommitPlan<W extends ProfileWork, R = undefined> {
  /** Other profiles a work needs read with its own (an anonymous profile it absorbs). */
  alsoRead?(work: W): readonly string[];
  /** What else the decisions need, read on every attempt after the profiles. */
  read?(pending: readonly W[], profiles: ReadonlyMap<string, Profile>): Promise<R>;
  /**
   * The decision for one work on the profiles just read (each a fresh copy, decided on in place);
   * null when there is nothing to write.
   */
  decide(work: W, profiles: ReadonlyMap<string, Profile>, now: number, reads: R): Decision | null;
  /** A work's decision landed (null: it needed no write); returns any work that follows from it. */
  landed?(work: W, decision: Decision | null): readonly W[] | void;
}

export interface CommitLoopOptions {
  /** Null in a bare store with nothing published: no timers, no counters. */
  workspace?: Workspace;
  now: () => number;
  /** How long after a conversion window closes its goal events still count (the late grace). */
  lateGraceMs: number;
  scheduleChecks?: ScheduleChecks;
  /** Profiles already read for the first attempt (the caller needed them before deciding). */
  firstRead?: ReadonlyMap<string, Profile>;
}

export interface CommitLoopResult {
  /** Profiles written. */
  written: number;
  /** Compare-and-set conflicts that were decided again. */
  retries: number;
}

/**
 * The one way a profile changes: read, decide, plan the user's next timer, queue it, add the report
 * counters, then compare-and-set every decided profile in one store commit. A profile another writer
 * changed in between is read and decided again (jittered), so any number of workers agree.
 */
export async function commitDecisions<W extends ProfileWork, R = undefined>(
  store: Store,
  works: readonly W[],
  plan: CommitPlan<W, R>,
  options: CommitLoopOptions,
): Promise<CommitLoopResult> {
  const result: CommitLoopResult = { written: 0, retries: 0 };
  const { workspace } = options;
  let pending = [...works];
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > MAX_ATTEMPTS)
      throw new Error(`gave up after ${MAX_ATTEMPTS} version conflicts on ${pending.length} profiles`);
    const keys = new Set(pending.flatMap((w) => [w.key, ...(plan.alsoRead?.(w) ?? [])]));
    const profiles =
      attempt === 1 && options.firstRead ? options.firstRead : await store.getProfiles([...keys]);
    const reads = (plan.read ? await plan.read(pending, profiles) : undefined) as R;
    const now = options.now();
    const commits: ProfileCommit[] = [];
    const checks: ProfileCheck[] = [];
    const decisions = new Map<W, Decision | null>();
    for (const work of pending) {
      const read = profiles.get(work.key);
      const expectedVersion = read?.version ?? 0;
      const timerBefore = read?.checkAt ?? null;
      const decision = plan.decide(work, profiles, now, reads);
      decisions.set(work, decision);
      if (!decision) continue;
      const { profile } = decision;
      // Decisions are stamped with the logical time they stand for; when they were made is now.
      for (const e of decision.events) if (e.type === 'internal') e.receivedAt = now;
      const check = workspace
        ? planCheck(
            profile,
            now,
            workspace,
            decision.firing === undefined ? undefined : { at: decision.firing, gapMs: DUE_TIMER_DELAY_MS },
          )
        : null;
      if (!decision.changed && decision.events.length === 0 && (profile.checkAt ?? null) === timerBefore) {
        decisions.set(work, null);
        continue;
      }
      if (check) checks.push(check);
      const counts = workspace
        ? commitCounts(profile, decision.events, now, workspace, options.lateGraceMs, decision.recent)
        : undefined;
      profile.version = expectedVersion + 1;
      commits.push({
        key: work.key,
        expectedVersion,
        profile,
        events: decision.events,
        messageIds: decision.messageIds ?? [],
        ...(decision.absorb ? { absorb: decision.absorb } : {}),
        ...(counts ? { counts } : {}),
      });
    }
    if (checks.length > 0 && options.scheduleChecks) await options.scheduleChecks(checks);
    const { conflicts } = commits.length > 0 ? await store.commit(commits) : { conflicts: [] };
    const failed = new Set(conflicts);
    const next: W[] = [];
    for (const work of pending) {
      if (failed.has(work.key)) {
        next.push(work);
        continue;
      }
      const decision = decisions.get(work) ?? null;
      if (decision) result.written++;
      const follow = plan.landed?.(work, decision);
      if (follow) next.push(...follow);
    }
    result.retries += failed.size;
    pending = next;
    if (failed.size > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 5)));
  }
  return result;
}

/** One profile's decision through the loop: the decision that landed, or null when nothing was written. */
export async function commitProfile(
  store: Store,
  key: string,
  decide: (profile: Profile, now: number) => Decision | null,
  options: CommitLoopOptions,
): Promise<Decision | null> {
  let landed: Decision | null = null;
  await commitDecisions(
    store,
    [{ key }],
    {
      decide: (work, profiles, now) => {
        const profile = profiles.get(work.key);
        return profile ? decide(profile, now) : null;
      },
      landed: (_, decision) => {
        landed = decision;
      },
    },
    options,
  );
  return landed;
}
