/**
 * Aliyun SMS keeps Beijing time: send dates, receipt times and the day / month quota windows are
 * all on the Asia/Shanghai clock, whatever the caller's zone.
 */
import { DateTime } from 'luxon';

const ZONE = 'Asia/Shanghai';

/** `2025-06-01 10:00:05` as Aliyun writes it in receipts and QuerySendDetails. */
export function parseAliyunTime(text: string): number | null {
  const t = DateTime.fromFormat(text, 'yyyy-MM-dd HH:mm:ss', { zone: ZONE });
  return t.isValid ? t.toMillis() : null;
}

/** QuerySendDetails' `SendDate`s (yyyyMMdd) from `from`'s through `to`'s, oldest first. */
export function sendDates(from: number, to: number): string[] {
  const dates: string[] = [];
  const last = DateTime.fromMillis(Math.max(from, to), { zone: ZONE }).startOf('day');
  for (
    let day = DateTime.fromMillis(from, { zone: ZONE }).startOf('day');
    day <= last;
    day = day.plus({ days: 1 })
  )
    dates.push(day.toFormat('yyyyMMdd'));
  return dates;
}

/** The next midnight (`day`) or first of the month (`month`) on Aliyun's clock. */
export function nextPeriodStart(at: number, period: 'day' | 'month'): number {
  return DateTime.fromMillis(at, { zone: ZONE })
    .startOf(period)
    .plus(period === 'day' ? { days: 1 } : { months: 1 })
    .toMillis();
}
