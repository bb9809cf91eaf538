/**
 * A report's date range: whole local days `from`..`to` (inclusive) in an IANA zone, as hours
 * (conversions/counters.ts). Each hour of the range maps to its local date.
 */
import { DateTime } from 'luxon';
import { BUCKET_MS } from '../conversions/counters.ts';

export interface ReportRange {
  from: string;
  to: string;
  tz: string;
}

/** The range as instants: `start` of its first local day, `end` of its last (exclusive), ms. */
export function rangeBounds(range: ReportRange): { start: number; end: number } {
  const start = DateTime.fromISO(range.from, { zone: range.tz }).startOf('day');
  const end = DateTime.fromISO(range.to, { zone: range.tz }).startOf('day').plus({ days: 1 });
  return { start: start.toMillis(), end: end.toMillis() };
}

export class DayIndex {
  readonly days: string[];
  /** First hour of each day, and the hour after the last day. */
  private readonly starts: number[];

  constructor(readonly range: ReportRange) {
    const first = DateTime.fromISO(range.from, { zone: range.tz }).startOf('day');
    const last = DateTime.fromISO(range.to, { zone: range.tz }).startOf('day');
    this.days = [];
    this.starts = [];
    for (let day = first; day <= last; day = day.plus({ days: 1 })) {
      this.days.push(day.toISODate() as string);
      this.starts.push(Math.ceil(day.toMillis() / BUCKET_MS));
    }
    this.starts.push(Math.ceil(last.plus({ days: 1 }).toMillis() / BUCKET_MS));
  }

  /** When the local day of index `i` ends (the first hour after it), ms. */
  endOf(i: number): number {
    return this.starts[i + 1] * BUCKET_MS;
  }

  /** The index of the local day an hour falls in, or -1 outside the range. */
  dayOf(q: number): number {
    const s = this.starts;
    if (q < s[0] || q >= s[s.length - 1]) return -1;
    let lo = 0;
    let hi = s.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= q) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Whole local days between two hours (the D of a conversion), in the range's zone. */
  daysBetween(fromQ: number, toQ: number): number {
    return this.localDay(toQ) - this.localDay(fromQ);
  }

  private readonly dayNumbers = new Map<number, number>();

  /** Days since 1970-01-01 of the local date an hour falls on (offsets change on hour bounds). */
  private localDay(q: number): number {
    let day = this.dayNumbers.get(q);
    if (day === undefined) {
      const ms = q * BUCKET_MS;
      const offset = DateTime.fromMillis(ms, { zone: this.range.tz }).offset;
      day = Math.floor((ms + offset * 60_000) / 86_400_000);
      this.dayNumbers.set(q, day);
    }
    return day;
  }
}
