/** Instants and calendar dates for the time operators, in the user's IANA zone. */
import { DateTime, IANAZone } from 'luxon';

export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

const zones = new Map<string, string>();

/** The zone itself if valid, else UTC (so a bad profile timezone never throws mid-evaluation). */
export function safeZone(timezone: string): string {
  let zone = zones.get(timezone);
  if (zone === undefined) {
    // isValidZone builds an Intl.DateTimeFormat: far too slow to repeat per evaluation.
    zone = IANAZone.isValidZone(timezone) ? timezone : 'UTC';
    if (zones.size >= 1000) zones.clear();
    zones.set(timezone, zone);
  }
  return zone;
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

const DATE_PREFIX = /^(\d{4})-(\d{2})-(\d{2})/;
const OFFSET_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/;

/** The calendar date written at the start of `value` (`YYYY-MM-DD...`), if it is a real date. */
export function writtenDate(value: unknown): CalendarDate | null {
  if (typeof value !== 'string') return null;
  const m = DATE_PREFIX.exec(value);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

// Fast path for the common `...Z` / `...+08:00` timestamps; luxon handles every other form.
function offsetDateTime(value: string): number | null | undefined {
  const m = OFFSET_DATETIME.exec(value);
  if (!m) return undefined;
  const date = writtenDate(value);
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (!date || date.year < 100 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const offsetMin = m[8] === 'Z' ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  return Date.UTC(date.year, date.month - 1, date.day, hour, minute, second, ms) - offsetMin * 60_000;
}

/**
 * An instant from an ISO 8601 string (a date or a local time is read in `timezone`), or epoch ms.
 * Anything else (null, undefined, other types, unparseable strings) is null.
 */
export function toInstant(value: unknown, timezone: string): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || !DATE_PREFIX.test(value)) return null;
  const fast = offsetDateTime(value);
  if (fast !== undefined) return fast;
  const key = `${timezone}|${value}`;
  let instant = localInstants.get(key);
  if (instant === undefined) {
    const parsed = DateTime.fromISO(value, { zone: safeZone(timezone) });
    instant = parsed.isValid ? parsed.toMillis() : null;
    if (localInstants.size >= 10_000) localInstants.clear();
    localInstants.set(key, instant);
  }
  return instant;
}

// Dates and local times (`2025-01-01`, `2025-01-01T09:00`) depend on the zone; luxon takes microseconds.
const localInstants = new Map<string, number | null>();

interface LocalDay {
  start: number;
  end: number;
  date: CalendarDate;
}
const localDays = new Map<string, LocalDay[]>();

/** Today's calendar date at `now` in `timezone` (the zone's current day is cached: luxon is slow). */
export function calendarDateAt(now: number, timezone: string): CalendarDate {
  const days = localDays.get(timezone) ?? [];
  for (const day of days) if (day.start <= now && now <= day.end) return day.date;
  const local = DateTime.fromMillis(now, { zone: safeZone(timezone) });
  const day: LocalDay = {
    start: local.startOf('day').toMillis(),
    end: local.endOf('day').toMillis(),
    date: { year: local.year, month: local.month, day: local.day },
  };
  if (localDays.size >= 1000) localDays.clear();
  localDays.set(timezone, [day, ...days.slice(0, 7)]);
  return day.date;
}
