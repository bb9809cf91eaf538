import type { WebhookOutcomes } from '../journeys/webhook.ts';
import { recordSends, type SendOutcomes } from '../journeys/outbox.ts';
import { lifecycleOverTime } from '../lifecycle/profile-lifecycle.ts';
import type { Profile } from '../model/profile.ts';
import type { Decision, DecisionContext } from './decision.ts';
import { runJourneys, runJourneyTimers } from './pipeline.ts';
import { updateMembership } from '../segments/moves.ts';

/** What a timer's run did outside the commit: webhook calls and message hand-overs, made once. */
export interface CheckCalls {
  webhooks?: WebhookOutcomes;
  sends?: SendOutcomes;
}

/**
 * A user's timer fired at `at`: the lifecycle moves that fell due, the segments that change with time
 * alone (entries and exits named after the timer, so a repeated firing stores them once), the journeys'
 * answer to those moves, their own timers, and the outcomes of the hand-overs made for it.
 */
export function decideCheck(
  profile: Profile,
  at: number,
  calls: CheckCalls,
  { workspace, now }: DecisionContext,
): Decision {
  const cause = { messageId: `check:${at}`, timestamp: at };
  // The lifecycle first (segments may read it); the stored one was decided at or after its `since`.
  const before = profile.lifecycle?.state;
  const events = lifecycleOverTime(profile, profile.lifecycle?.since ?? 0, now, workspace.lifecycle);
  const candidates =
    profile.lifecycle?.state === before
      ? workspace.timeSegments
      : [...workspace.timeSegments, ...workspace.profileReadingSegments];
  events.push(...updateMembership(profile, [...new Set(candidates)], cause, now, workspace));
  // What the moves above (segments, lifecycle) mean for the journeys, then the journey timers
  // (which hand their own tag/trait consequences to the journeys themselves).
  const moves = [...events];
  events.push(...runJourneyTimers(profile, now, workspace, calls.webhooks));
  events.push(...runJourneys(profile, moves, now, workspace));
  if (calls.sends) events.push(...recordSends(profile, calls.sends, now));
  return { profile, events, firing: at };
}
