import type { WebhookOutcomes } from '../journeys/webhook.ts';
import { recordSends, type SendOutcomes } from '../journeys/outbox.ts';
import type { Profile } from '../model/profile.ts';
import type { Decision, DecisionContext } from './decision.ts';
import { advance } from './timeline.ts';

/** What a timer's run did outside the commit: webhook calls and message hand-overs, made once. */
export interface CheckCalls {
  webhooks?: WebhookOutcomes;
  sends?: SendOutcomes;
}

/**
 * A user's timer fired at `at`: the user's time line is brought up to now (lifecycle moves, segments
 * that change with time alone, journey timers, each at the instant it fell due), then the outcomes of
 * the hand-overs made for it are recorded.
 */
export function decideCheck(
  profile: Profile,
  at: number,
  calls: CheckCalls,
  { workspace, now }: DecisionContext,
): Decision {
  profile.decidedAt ??= Math.min(profile.lastSeenAt, at);
  const events = advance(profile, now, workspace, calls.webhooks);
  if (calls.sends) events.push(...recordSends(profile, calls.sends, now));
  return { profile, events, firing: at };
}
