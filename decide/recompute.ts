import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import type { Decision, DecisionContext } from './decision.ts';
import { rematerialise, runJourneys } from './pipeline.ts';
import { updateMembership } from '../segments/moves.ts';

/**
 * After a publication: what the profile keeps is rebuilt from its history when the workspace reads
 * something new, every segment is evaluated again, and users the publication moves into or out of a
 * segment meet the journeys triggered by that.
 */
export function decideRecompute(
  profile: Profile,
  history: readonly StoredEvent[] | null,
  cause: string,
  { workspace, now }: DecisionContext,
): Decision {
  const materialisedFor = profile.materialisedFor;
  const events: StoredEvent[] = [];
  if (profile.materialisedFor !== workspace.materialisation)
    events.push(...rematerialise(profile, history ?? [], now, workspace));
  events.push(
    ...updateMembership(profile, workspace.segments, { messageId: cause, timestamp: now }, now, workspace),
  );
  events.push(...runJourneys(profile, [...events], now, workspace));
  return { profile, events, changed: profile.materialisedFor !== materialisedFor };
}
