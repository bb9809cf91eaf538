/**
 * When a condition can change its answer with no new event: the instants at which time-relative
 * leaves flip, so a user is re-checked then (one timer per user), never by rescanning everyone.
 */
import { DateTime } from 'luxon';
import { toAggregateSpec } from './facts.ts';
import { factGetter } from './facts.ts';
import { parseDurationMs } from './durations.ts';
import { pathResolver } from './jsonpath.ts';
import { safeZone, toInstant } from './time.ts';
import type { AggregateSpec, Condition, FactContext } from './types.ts';

interface Shift {
  read: (ctx: FactContext) => unknown;
  ms: number;
}

export interface TimeTriggers {
  /** withinLast / notWithinLast / olderThan: flip when `now` passes the fact's instant (+ duration). */
  shifts: Shift[];
  /** anniversaryToday: may flip at every local midnight. */
  daily: boolean;
  /** anniversaryThisMonth: may flip when a local month begins. */
  monthly: boolean;
  /** Aggregates with `within`: flip when a bucket leaves the window. */
  windows: AggregateSpec[];
}

const SHIFT_OPERATORS = new Set(['withinLast', 'notWithinLast', 'olderThan']);

export function timeTriggers(condition: Condition): TimeTriggers {
  const triggers: TimeTriggers = { shifts: [], daily: false, monthly: false, windows: [] };
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const n = node as Record<string, unknown>;
    for (const key of ['all', 'any'] as const) if (Array.isArray(n[key])) (n[key] as unknown[]).forEach(walk);
    if (n.not !== undefined) walk(n.not);
    if (typeof n.fact !== 'string') return;
    if (n.operator === 'anniversaryToday') triggers.daily = true;
    if (n.operator === 'anniversaryThisMonth') triggers.monthly = true;
    const ms = SHIFT_OPERATORS.has(n.operator as string) ? parseDurationMs(n.value) : null;
    if (ms !== null) {
      const get = factGetter(n.fact, n.params);
      const resolve = pathResolver(n.path);
      triggers.shifts.push({ read: (ctx) => resolve(get(ctx)), ms });
    }
    if (n.fact === 'aggregate') {
      const spec = toAggregateSpec(n.params);
      if (typeof spec !== 'string' && spec.within) triggers.windows.push(spec);
    }
  };
  walk(condition);
  return triggers;
}

/** [start, end) of the local day or month containing an instant, by zone: luxon's zone maths is slow. */
const periods = new Map<string, [number, number]>();

function periodEnd(now: number, timezone: string, unit: 'day' | 'month'): number {
  const key = `${unit}|${timezone}`;
  const known = periods.get(key);
  if (known && known[0] <= now && now < known[1]) return known[1];
  const start = DateTime.fromMillis(now, { zone: safeZone(timezone) }).startOf(unit);
  const end = start.plus(unit === 'day' ? { days: 1 } : { months: 1 }).toMillis();
  if (periods.size >= 2000) periods.clear();
  periods.set(key, [start.toMillis(), end]);
  return end;
}

/** The next local midnight after `now` in `timezone`. */
export function nextMidnight(now: number, timezone: string): number {
  return periodEnd(now, timezone, 'day');
}

/** The start of the next local month after `now` in `timezone`. */
export function nextMonthStart(now: number, timezone: string): number {
  return periodEnd(now, timezone, 'month');
}

/**
 * The earliest instant after `now` at which a shift or daily trigger can flip for this context
 * (windows are answered by the caller, who holds the aggregate state); null when none can.
 */
export function nextShiftFlip(triggers: TimeTriggers, ctx: FactContext): number | null {
  let next = triggers.daily
    ? nextMidnight(ctx.now, ctx.timezone)
    : triggers.monthly
      ? nextMonthStart(ctx.now, ctx.timezone)
      : Number.POSITIVE_INFINITY;
  for (const shift of triggers.shifts) {
    let value: unknown;
    try {
      value = shift.read(ctx);
    } catch {
      continue;
    }
    const at = toInstant(value, ctx.timezone);
    if (at === null) continue;
    // withinLast holds on [at, at + ms]: it flips when `now` reaches `at` and just after `at + ms`.
    for (const candidate of [at, at + shift.ms + 1])
      if (candidate > ctx.now && candidate < next) next = candidate;
  }
  return Number.isFinite(next) ? next : null;
}
