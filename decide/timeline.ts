import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import type { WebhookOutcomes } from '../journeys/webhook.ts';
import { lifecycleOverTime } from '../lifecycle/profile-lifecycle.ts';
import { updateMembership } from '../segments/moves.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { runJourneys, runJourneyTimers } from './pipeline.ts';

/** Instants fired in one decision at most (a backstop: each firing moves the time line forward). */
const MAX_FIRINGS = 1_000;

/**
 * The user's time line, from where it was last decided up to `to`: every instant at which something
 * falls due (a lifecycle move, a time-relative segment flipping, a journey's wait or timeout) fires at
 * its own time, in order, and sees the world as of that time. Message hand-overs and webhook calls are
 * not made here (they need the timer's job); the instants up to them are.
 */
export function advance(
  profile: Profile,
  to: number,
  workspace: Workspace,
  webhooks?: WebhookOutcomes,
): StoredEvent[] {
  const events: StoredEvent[] = [];
  if (profile.decidedAt === undefined) return events;
  const timers = { sends: false, webhooks: webhooks !== undefined };
  let fired = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < MAX_FIRINGS; i++) {
    const next = workspace.nextCheckAt(profile, Math.max(profile.decidedAt, fired), timers);
    if (next === null || next > to) {
      // Nothing else falls due before `to`: the user is decided as of then.
      if (to > profile.decidedAt) profile.decidedAt = to;
      break;
    }
    // Still due after firing: a webhook whose call this decision does not have; the timer's job makes it.
    if (next <= fired) break;
    events.push(...fire(profile, next, workspace, webhooks));
    fired = next;
  }
  return events;
}

/**
 * One instant `at` of the time line: the lifecycle moves that fell due, the segments that change with
 * time alone (entries and exits named after the instant, so firing it again stores them once), the
 * journeys' answer to those moves, and their own timers. An instant of imported history moves the
 * profile silently: no journey reacts.
 */
function fire(profile: Profile, at: number, workspace: Workspace, webhooks?: WebhookOutcomes): StoredEvent[] {
  const cause = { messageId: `check:${at}`, timestamp: at };
  // The lifecycle first (segments may read it); the stored one was decided at or after its `since`.
  const before = profile.lifecycle?.state;
  const events = lifecycleOverTime(profile, profile.lifecycle?.since ?? 0, at, workspace.lifecycle);
  const candidates =
    profile.lifecycle?.state === before
      ? workspace.timeSegments
      : [...workspace.timeSegments, ...workspace.profileReadingSegments];
  events.push(...updateMembership(profile, [...new Set(candidates)], cause, at, workspace));
  // What the moves above mean for the journeys, then the journey timers (which hand their own
  // tag/trait consequences to the journeys themselves).
  profile.decidedAt = at;
  if (at <= (profile.importedUntil ?? Number.NEGATIVE_INFINITY)) return markImported(events);
  const moves = [...events];
  events.push(...runJourneyTimers(profile, at, workspace, webhooks));
  events.push(...runJourneys(profile, moves, at, workspace));
  return events;
}

/** Flags events as part of imported history (they build the profile, they drive nothing). */
export function markImported(events: StoredEvent[]): StoredEvent[] {
  for (const e of events) e.imported = true;
  return events;
}
