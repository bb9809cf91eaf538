/**
 * Cron schedules of scheduled journeys and the value model: each firing walks a whole audience, so
 * a schedule may fire no more often than a documented minimum. The gap is measured over the next
 * firings (a cron fires in bursts, such as every minute of one hour, so the bursts show at once).
 */
import { CronExpressionParser } from 'cron-parser';

/** The shortest gap between two firings of a scheduled journey. */
export const MIN_JOURNEY_SCHEDULE_MS = 15 * 60_000;
/** The shortest gap between two value model runs (each rescores every profile). */
export const MIN_VALUE_MODEL_SCHEDULE_MS = 60 * 60_000;

const FIRINGS_CHECKED = 200;

const describe = (ms: number): string =>
  ms % 3_600_000 === 0
    ? `${ms / 3_600_000} hour(s)`
    : ms % 60_000 === 0
      ? `${ms / 60_000} minutes`
      : `${ms / 1000} seconds`;

/** Why a cron expression may not be used (not cron, or firing more often than `minGapMs`), or null. */
export function cronProblem(cron: string, tz: string, minGapMs: number, from = Date.now()): string | null {
  // cron-parser reads an empty expression as "every minute".
  if (cron.trim() === '') return 'must not be empty, e.g. 0 9 * * *';
  let times: number[];
  try {
    const expression = CronExpressionParser.parse(cron, { tz, currentDate: new Date(from) });
    times = expression.take(FIRINGS_CHECKED).map((d) => d.getTime());
  } catch (error) {
    return `invalid cron expression: ${(error as Error).message}`;
  }
  for (let i = 1; i < times.length; i++) {
    const gap = times[i] - times[i - 1];
    if (gap < minGapMs)
      return `fires every ${describe(gap)} at times: a schedule may fire at most once every ${describe(minGapMs)}`;
  }
  return null;
}
