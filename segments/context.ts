import { aggregateId, emptyAggregate, readAggregate } from '../rules/aggregates.ts';
import { firstEventAt, lastEventAt } from '../rules/event-times.ts';
import type { EventFact, FactContext, ProfileFact } from '../rules/types.ts';
import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';

const iso = (ms: number | null | undefined): string | null =>
  ms !== null && ms !== undefined && Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;

/**
 * `iso`, remembering its last answer: a profile's facts are built many times in a row (every round of
 * segments, every tag rule) from the same times. One per field, so that they do not evict each other.
 */
function isoCache(): (ms: number | null | undefined) => string | null {
  let lastMs: number | null | undefined = null;
  let lastIso: string | null = null;
  return (ms) => {
    if (ms !== lastMs) {
      lastIso = iso(ms);
      lastMs = ms;
    }
    return lastIso;
  };
}
const lifecycleSinceIso = isoCache();
const createdAtIso = isoCache();
const lastSeenAtIso = isoCache();

/** The profile fact of nobody: for conditions that read only the event, and eventless answers. */
export const NO_PROFILE: ProfileFact = Object.freeze({
  userId: null,
  traits: {},
  tags: [],
  segments: [],
  lifecycle: null,
  lifecycleSince: null,
  createdAt: null,
  lastSeenAt: null,
  timezone: null,
  bucket: 0,
  groups: {},
});

export function profileFact(p: Profile): ProfileFact {
  return {
    userId: p.userId,
    traits: p.traits,
    tags: p.tags,
    segments: p.segments,
    lifecycle: p.lifecycle?.state ?? null,
    lifecycleSince: lifecycleSinceIso(p.lifecycle?.since),
    createdAt: createdAtIso(p.createdAt),
    lastSeenAt: lastSeenAtIso(p.lastSeenAt),
    timezone: p.timezone,
    bucket: p.bucket,
    groups: p.groups ?? {},
  };
}

export function eventFact(e: StoredEvent): EventFact {
  return {
    name: e.event,
    type: e.type,
    properties: e.properties ?? {},
    traits: e.traits ?? {},
    timestamp: new Date(e.timestamp).toISOString(),
  };
}

/**
 * Everything a condition may read about one user, answered from the loaded profile: its traits,
 * its materialised aggregates and event times, and the event being processed (if any).
 * An aggregate that is not materialised on this profile reads as empty (count 0).
 */
export function profileContext(
  profile: Profile,
  now: number,
  options: { timezone: string; event?: StoredEvent | null },
): FactContext {
  const times = profile.eventTimes ?? {};
  return {
    now,
    timezone: profile.timezone ?? options.timezone,
    profile: profileFact(profile),
    event: options.event ? eventFact(options.event) : null,
    aggregate: (spec) =>
      readAggregate(profile.aggregates?.[aggregateId(spec)] ?? emptyAggregate(), spec, now),
    lastEventAt: (name) => lastEventAt(times, name),
    firstEventAt: (name) => firstEventAt(times, name),
  };
}
