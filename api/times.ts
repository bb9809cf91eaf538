import type { Fault } from '../model/input-error.ts';
import { parseDurationMs } from '../rules/durations.ts';

/**
 * A time in the past: an ISO 8601 date-time, or a duration back from `before` (`P30D`); undefined,
 * with a fault, otherwise.
 */
export function pastTime(
  value: unknown,
  before: number,
  pointer: string,
  faults: Fault[],
): number | undefined {
  const back = typeof value === 'string' && value.startsWith('P') ? parseDurationMs(value) : null;
  const ms = back !== null ? before - back : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isNaN(ms)) return ms;
  faults.push({
    pointer,
    message: 'must be an ISO 8601 date-time, or a duration back from now such as P30D',
  });
  return undefined;
}

/**
 * A past period `[since, until)` from a request: `until` a date-time (default now), `since` a
 * date-time or a duration back from `until` (default `P30D`); undefined, with faults, otherwise.
 */
export function pastPeriod(
  given: { since?: unknown; until?: unknown },
  now: number,
  faults: Fault[],
): { since: number; until: number } | undefined {
  const until = given.until === undefined ? now : pastTime(given.until, now, '/until', faults);
  const since = pastTime(given.since ?? 'P30D', until ?? now, '/since', faults);
  if (since === undefined || until === undefined) return undefined;
  if (since < until) return { since, until };
  faults.push({ pointer: '/since', message: 'must be before until' });
  return undefined;
}
