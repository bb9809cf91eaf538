/**
 * ISO 8601 durations (`P30D`, `PT24H`, `P1Y2M`), parsed with luxon.
 * Durations are fixed lengths: a day is 24 h, a week 7 days, and (luxon's casual matrix)
 * a month 30 days and a year 365 days.
 */
import { Duration } from 'luxon';

// Luxon alone accepts non-conforming strings such as `P`, `PT` and `P1DT`; this pattern does not.
const ISO_DURATION =
  /^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/;

const cache = new Map<string, number | null>();

/** Milliseconds of a valid, positive ISO 8601 duration, else null. */
export function parseDurationMs(iso: unknown): number | null {
  if (typeof iso !== 'string') return null;
  let ms = cache.get(iso);
  if (ms === undefined) {
    const duration = ISO_DURATION.test(iso) ? Duration.fromISO(iso) : null;
    const millis = duration?.isValid ? duration.toMillis() : NaN;
    ms = Number.isFinite(millis) && millis > 0 ? millis : null;
    if (cache.size >= 1000) cache.clear();
    cache.set(iso, ms);
  }
  return ms;
}

export function isValidDuration(iso: unknown): iso is string {
  return parseDurationMs(iso) !== null;
}

/** Milliseconds of `iso`; throws on a malformed, zero or negative duration. */
export function durationMs(iso: string): number {
  const ms = parseDurationMs(iso);
  if (ms === null) throw new RangeError(`not a positive ISO 8601 duration: ${JSON.stringify(iso)}`);
  return ms;
}
