import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import type { Workspace } from '../workspace/workspace.ts';

/** What every decision is made against: the compiled workspace and the decision time. */
export interface DecisionContext {
  workspace: Workspace;
  now: number;
}

/**
 * One cause's decision on one profile: the profile as it is to be stored (the copy read, changed in
 * place) and the effects that go with it. The commit loop plans the user's next timer, adds the report
 * counters and writes it all in one compare-and-set step.
 */
export interface Decision {
  profile: Profile;
  /** Events to store: the calls applied and what the engine raised (segment, lifecycle, journey log). */
  events: StoredEvent[];
  /** The Segment messageIds applied, remembered in the same write (exactly once). */
  messageIds?: string[];
  /** An anonymous profile folded into this one, deleted in the same write. */
  absorb?: { key: string; expectedVersion: number };
  /** Written even with no event (calls applied, a profile absorbed, traits or materialisation changed). */
  changed?: boolean;
  /** The user's recent calls, read for conversions whose goal arrived before their trigger. */
  recent?: readonly StoredEvent[];
  /** The timer being run, when this decision is one: its successor must not carry its id. */
  firing?: number;
}
