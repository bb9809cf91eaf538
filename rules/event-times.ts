/**
 * First and last occurrence per event name, for the `firstEventAt` / `lastEventAt` facts.
 * Only names that published rules use are tracked (the caller passes them). Order-independent:
 * each entry is the min and max event time seen, so any arrival order gives the same state.
 * `firstEventAt` is the first event the engine knows of: since tracking began, or the oldest
 * stored event when backfilled (stored events have a retention TTL).
 */
import type { AggregateEvent } from './aggregates.ts';
import type { EventTimes } from '../model/aggregates.ts';

export function emptyEventTimes(): EventTimes {
  return {};
}

/** Returns `state` itself when nothing changes. */
export function recordEventTime(
  state: EventTimes,
  name: string,
  timestamp: number,
  trackedNames: ReadonlySet<string>,
): EventTimes {
  if (!trackedNames.has(name)) return state;
  const cur = Object.hasOwn(state, name) ? state[name] : undefined;
  if (cur === undefined) return { ...state, [name]: [timestamp, timestamp] };
  if (timestamp >= cur[0] && timestamp <= cur[1]) return state;
  return { ...state, [name]: [Math.min(cur[0], timestamp), Math.max(cur[1], timestamp)] };
}

/** Builds the times for `trackedNames` from stored history (same as recording one by one). */
export function backfillEventTimes(
  events: Iterable<Pick<AggregateEvent, 'name' | 'timestamp'>>,
  trackedNames: ReadonlySet<string>,
  state: EventTimes = {},
): EventTimes {
  for (const e of events) state = recordEventTime(state, e.name, e.timestamp, trackedNames);
  return state;
}

/** Drops names no published rule uses any more. */
export function retainEventTimes(state: EventTimes, trackedNames: ReadonlySet<string>): EventTimes {
  return Object.fromEntries(Object.entries(state).filter(([name]) => trackedNames.has(name)));
}

function at(state: EventTimes, name: string, i: 0 | 1): string | null {
  return Object.hasOwn(state, name) ? new Date(state[name][i]).toISOString() : null;
}

export function firstEventAt(state: EventTimes, name: string): string | null {
  return at(state, name, 0);
}

export function lastEventAt(state: EventTimes, name: string): string | null {
  return at(state, name, 1);
}
