import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import type { Decision, DecisionContext } from './decision.ts';
import { runJourneys, runJourneyTimers } from './pipeline.ts';

/** A journey was resumed or stopped: the user's enrollments are walked now (timers due while paused). */
export function decideJourneyState(profile: Profile, { workspace, now }: DecisionContext): Decision {
  return { profile, events: runJourneyTimers(profile, now, workspace) };
}

/** A scheduled journey fired: the user meets its `journey_scheduled` trigger (named after the firing). */
export function decideScheduledRun(
  profile: Profile,
  trigger: StoredEvent,
  { workspace, now }: DecisionContext,
): Decision {
  return { profile, events: runJourneys(profile, [trigger], now, workspace) };
}
