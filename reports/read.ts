/**
 * The counters a journey report reads: the journey's days its range covers, plus the days after it in
 * which the range's enrollments can still convert (the longest goal window), and the workspace's
 * last-touch days of the range.
 */
import { DateTime } from 'luxon';
import { readCounterDays } from '../engine/conversions/counters.ts';
import type { Store } from '../engine/ports/store.ts';
import type { JourneyDefinition } from '../journeys/journey.ts';
import { durationMs } from '../rules/durations.ts';
import type { ReportRange } from './range.ts';

const DEFAULT_WITHIN = durationMs('P7D');

export async function readReportCounters(
  store: Pick<Store, 'readCounters'>,
  journeyId: string,
  definitions: readonly JourneyDefinition[],
  range: ReportRange,
): Promise<{ counters: ReadonlyMap<string, number>[]; workspace: ReadonlyMap<string, number>[] }> {
  const start = DateTime.fromISO(range.from, { zone: range.tz }).startOf('day').toMillis();
  const end = DateTime.fromISO(range.to, { zone: range.tz }).plus({ days: 1 }).startOf('day').toMillis() - 1;
  const within = Math.max(
    DEFAULT_WITHIN,
    ...definitions.map((d) => (d.goal?.within ? durationMs(d.goal.within) : DEFAULT_WITHIN)),
  );
  const [counters, workspace] = await Promise.all([
    readCounterDays(store, journeyId, start, end + within),
    readCounterDays(store, null, start, end),
  ]);
  return { counters, workspace };
}
