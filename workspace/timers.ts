import type { Profile } from '../model/profile.ts';
import type { Workspace } from './workspace.ts';

/** A user's re-check timer: tiny, with a deterministic id; the state it acts on is re-read when it fires. */
export interface ProfileCheck {
  key: string;
  at: number;
}

/** Adds users' timers to the queue; called before the commit that plans them. */
export type ScheduleChecks = (checks: ProfileCheck[]) => Promise<void>;

/**
 * Decides whether this profile needs a new timer: only when nothing is set, the set one has fired, or
 * an earlier check is now due. A later one is not moved: the earlier timer fires, finds nothing to do
 * and sets the next. Updates `profile.checkAt`; the caller adds the timer before it commits, so a
 * commit never records a timer that does not exist (a timer without a commit is harmless).
 *
 * `firing` is the timer being run, if any: a next timer due at or before it would carry its id and be
 * taken for that very job, so it is set `gapMs` after the later of now and the firing.
 */
export function planCheck(
  profile: Profile,
  now: number,
  workspace: Workspace,
  firing?: { at: number; gapMs: number },
): ProfileCheck | null {
  const next = workspace.nextCheckAt(profile, now);
  const current = profile.checkAt ?? null;
  if (current !== null && current <= now) profile.checkAt = null;
  if (next === null) return null;
  if (firing && next <= firing.at) {
    const at = Math.max(now, firing.at) + firing.gapMs;
    profile.checkAt = at;
    return { key: profile.key, at };
  }
  if (current !== null && current > now && current <= next) return null;
  profile.checkAt = next;
  return { key: profile.key, at: next };
}
