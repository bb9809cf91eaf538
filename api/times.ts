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
