/**
 * Tideline's custom operators, as pure functions. json-rules-engine operators only see
 * (factValue, value); ours also need the evaluation time and the user's timezone.
 */
import { parseDurationMs } from './durations.ts';
import { calendarDateAt, isLeapYear, toInstant, writtenDate, type CalendarDate } from './time.ts';

export interface OperatorContext {
  /** ms since epoch */
  now: number;
  /** IANA zone for day boundaries */
  timezone: string;
}

export type OperatorFn = (factValue: unknown, value: unknown, ctx: OperatorContext) => boolean;

export const CUSTOM_OPERATOR_NAMES = [
  'withinLast',
  'notWithinLast',
  'olderThan',
  'anniversaryToday',
  'anniversaryThisMonth',
  'hasTag',
  'inSegment',
] as const;
export type CustomOperatorName = (typeof CUSTOM_OPERATOR_NAMES)[number];

/** now - d <= t <= now. A missing time or a future one is not "within the last". */
function withinLast(factValue: unknown, value: unknown, ctx: OperatorContext): boolean {
  const d = parseDurationMs(value);
  const t = toInstant(factValue, ctx.timezone);
  return d !== null && t !== null && ctx.now - d <= t && t <= ctx.now;
}

/** The negation of withinLast (so "never happened" is true); false only for an invalid duration. */
function notWithinLast(factValue: unknown, value: unknown, ctx: OperatorContext): boolean {
  return parseDurationMs(value) !== null && !withinLast(factValue, value, ctx);
}

/** t < now - d. A missing time is not older than anything. */
function olderThan(factValue: unknown, value: unknown, ctx: OperatorContext): boolean {
  const d = parseDurationMs(value);
  const t = toInstant(factValue, ctx.timezone);
  return d !== null && t !== null && t < ctx.now - d;
}

/**
 * Decision: a 29 February birthday is celebrated on 28 February in non-leap years
 * (the last day of the birth month, as most billing and HR systems do), and only on 29 February in leap years.
 */
function isAnniversary(born: CalendarDate, today: CalendarDate): boolean {
  if (born.month === today.month && born.day === today.day) return true;
  return (
    born.month === 2 && born.day === 29 && !isLeapYear(today.year) && today.month === 2 && today.day === 28
  );
}

/** value `true`: the fact's written calendar date has its anniversary today in ctx.timezone; `false`: negated. */
function anniversaryToday(factValue: unknown, value: unknown, ctx: OperatorContext): boolean {
  if (typeof value !== 'boolean') return false;
  const born = writtenDate(factValue);
  const hit = born !== null && isAnniversary(born, calendarDateAt(ctx.now, ctx.timezone));
  return value ? hit : !hit;
}

/**
 * value `true`: the fact's written date falls in the current calendar month in ctx.timezone
 * ("birthday this month"); `false`: negated. Any valid date qualifies, 29 February included.
 */
function anniversaryThisMonth(factValue: unknown, value: unknown, ctx: OperatorContext): boolean {
  if (typeof value !== 'boolean') return false;
  const born = writtenDate(factValue);
  const hit = born !== null && born.month === calendarDateAt(ctx.now, ctx.timezone).month;
  return value ? hit : !hit;
}

/** The list itself, or the `key` list of an object such as the profile. */
function listOf(factValue: unknown, key: 'tags' | 'segments'): unknown[] {
  if (Array.isArray(factValue)) return factValue;
  if (typeof factValue === 'object' && factValue !== null) {
    const list: unknown = (factValue as Record<string, unknown>)[key];
    if (Array.isArray(list)) return list;
  }
  return [];
}

export const customOperators: Record<CustomOperatorName, OperatorFn> = {
  withinLast,
  notWithinLast,
  olderThan,
  anniversaryToday,
  anniversaryThisMonth,
  hasTag: (factValue, value) => typeof value === 'string' && listOf(factValue, 'tags').includes(value),
  inSegment: (factValue, value) => typeof value === 'string' && listOf(factValue, 'segments').includes(value),
};
