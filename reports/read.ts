/**
 * The counters a report reads: a journey's days its range covers plus the days after it in which the
 * range's enrollments can still convert (its longest goal window), and the workspace's last-touch days
 * of the range (read once for an overview of many journeys).
 */
import { readCounterDays } from '../conversions/counters.ts';
import type { Store } from '../ports/store.ts';
import type { CompiledJourney } from '../journeys/compile.ts';
import { rangeBounds, type ReportRange } from './range.ts';

type Counters = ReadonlyMap<string, number>[];

/** `versions`: the journey's published versions (their goal windows). */
export function readJourneyCounters(
  store: Pick<Store, 'readCounters'>,
  versions: readonly CompiledJourney[],
  range: ReportRange,
): Promise<Counters> {
  const { start, end } = rangeBounds(range);
  const within = Math.max(0, ...versions.map((j) => j.goal?.within ?? 0));
  return readCounterDays(store, versions[0].id, start, end - 1 + within);
}

export function readLastTouchCounters(
  store: Pick<Store, 'readCounters'>,
  range: ReportRange,
): Promise<Counters> {
  const { start, end } = rangeBounds(range);
  return readCounterDays(store, null, start, end - 1);
}
