/**
 * A journey's report, answered from its counters (conversions/counters.ts names the fields):
 * one pass over the journey's fields, whatever the number of messages behind them.
 *
 * What a range counts: enrollments that entered in it (their conversions and revenue follow them:
 * the cohort view), and messages, receipts and clicks that happened in it. The daily series by event
 * date puts each conversion and order on its own day instead.
 */
import { DEFAULT_GOAL_WINDOW } from '../journeys/compile.ts';
import type { JourneyDefinition, Step } from '../journeys/journey.ts';
import { durationMs } from '../rules/durations.ts';
import { DayIndex, type ReportRange } from './range.ts';
import { uplift, type Uplift } from './uplift.ts';
import type { Group } from '../model/conversions.ts';

export interface Totals {
  entered: number;
  sent: number;
  delivered: number;
  clicked: number;
  converted: number;
  conversionRate: number | null;
  revenue: number;
  orders: number;
}

export interface GroupTotals {
  entered: number;
  converted: number;
  conversionRate: number | null;
  revenue: number;
}

export interface MessageCounts {
  sent: number;
  delivered: number;
  clicked: number;
  skipped: number;
  failed: number;
  /** Conversions credited to these messages (the last message before each conversion). */
  converted: number;
  /** Revenue credited to these messages (the last message before each order). */
  revenue: number;
  /** Messages followed by a goal event within the goal window of their own send. */
  messagesConverted: number;
}

export interface JourneyReport {
  journey: { id: string; name: string; versions: number[] };
  range: ReportRange;
  version: number | null;
  totals: Totals;
  treatment: GroupTotals;
  holdout: GroupTotals;
  /** Treatment against the journey's holdout. */
  uplift: Uplift | null;
  /** Users of the workspace's global control group who would have entered (not counted in totals). */
  globalControl: GroupTotals;
  /** Treatment against the global control group. */
  controlUplift: Uplift | null;
  lastTouch: { orders: number; revenue: number };
  daily: {
    date: string;
    entered: number;
    sent: number;
    delivered: number;
    clicked: number;
    converted: number;
    revenue: number;
  }[];
  cohorts: {
    date: string;
    entered: number;
    converted: number;
    conversionRate: number | null;
    revenue: number;
    holdoutEntered: number;
    holdoutConverted: number;
    /** The goal window of some of the day's entries is still running: its figures can still grow. */
    open: boolean;
  }[];
  curve: { treatment: CurvePoint[]; holdout: CurvePoint[]; globalControl: CurvePoint[] };
  steps: ({ version: number; step: string; type: string; reached: number } & MessageCounts)[];
  branches: { version: number; step: string; path: string; count: number }[];
  exits: { version: number; reason: string; count: number }[];
  channels: ({ channel: string } & MessageCounts)[];
  variants: ({ step: string; template: string } & MessageCounts)[];
  versions: {
    version: number;
    entered: number;
    sent: number;
    converted: number;
    conversionRate: number | null;
    revenue: number;
  }[];
}

/** Adds one counter field (its hour, its count) to the report's rows. */
type Tally = (hour: number, n: number) => void;

export interface CurvePoint {
  day: number;
  converted: number;
  rate: number | null;
}

/** Days after entry the cumulative curve runs to: a P7D window touches the entry day and 7 more. */
export const CURVE_DAYS = 7;

const rate = (n: number, of: number): number | null => (of > 0 ? round(n / of, 6) : null);
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const money = (cents: number) => round(cents / 100, 2);

const emptyMessages = (): MessageCounts => ({
  sent: 0,
  delivered: 0,
  clicked: 0,
  skipped: 0,
  failed: 0,
  converted: 0,
  revenue: 0,
  messagesConverted: 0,
});

/** The counters of a message status (sandbox records count as sent). */
const STATUS_FIELD: Record<string, keyof MessageCounts> = {
  sent: 'sent',
  sandbox: 'sent',
  delivered: 'delivered',
  clicked: 'clicked',
  skipped: 'skipped',
  failed: 'failed',
};

function grouped<T>(map: Map<string, T>, key: string, make: () => T): T {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

export interface ReportInput {
  journeyId: string;
  /** Published versions, oldest first (names, steps for the funnel). */
  definitions: readonly JourneyDefinition[];
  /** The journey's counters of the days the range needs (reports/read.ts). */
  counters: readonly ReadonlyMap<string, number>[];
  /** The workspace's counters (last-touch view). */
  workspace: readonly ReadonlyMap<string, number>[];
  range: ReportRange;
  version?: number;
  /** The time of the report (which cohorts are still open); none: every cohort counts as closed. */
  now?: number;
}

export function journeyReport(input: ReportInput): JourneyReport {
  const { journeyId, definitions, counters, range } = input;
  const days = new DayIndex(range);
  const only = input.version ?? null;
  // The longest goal window of the versions counted: a day's entries may convert until it closes.
  const window = Math.max(
    0,
    ...definitions
      .filter((d) => d.goal && (only === null || d.version === only))
      .map((d) => durationMs(d.goal?.within ?? DEFAULT_GOAL_WINDOW)),
  );
  const openUntil = (day: number) => days.endOf(day) + window;
  const daily = days.days.map((date) => ({
    date,
    entered: 0,
    sent: 0,
    delivered: 0,
    clicked: 0,
    converted: 0,
    revenue: 0,
  }));
  const cohorts = days.days.map((date) => ({
    date,
    entered: 0,
    converted: 0,
    conversionRate: null as number | null,
    revenue: 0,
    holdoutEntered: 0,
    holdoutConverted: 0,
  }));
  const tally = () => ({ entered: 0, converted: 0, cents: 0 });
  const group = { t: tally(), h: tally(), c: tally() };
  const days0 = () => new Array<number>(CURVE_DAYS + 1).fill(0);
  const curve = { t: days0(), h: days0(), c: days0() };
  // The global control group is reported apart: it is not in the journey, only measured like it.
  const groupOf = (code: string): Group => (code === 'h' ? 'h' : code === 'c' ? 'c' : 't');
  let orders = 0;
  const dailyCents = new Array<number>(days.days.length).fill(0);
  const cohortCents = new Array<number>(days.days.length).fill(0);
  const steps = new Map<
    string,
    { version: number; step: string; type: string; reached: number } & MessageCounts
  >();
  const branches = new Map<string, { version: number; step: string; path: string; count: number }>();
  const exits = new Map<string, { version: number; reason: string; count: number }>();
  const channels = new Map<string, { channel: string } & MessageCounts>();
  const variants = new Map<string, { step: string; template: string } & MessageCounts>();
  const versions = new Map<
    string,
    { version: number; entered: number; sent: number; converted: number; cents: number }
  >();
  const typeOf = new Map<string, string>();
  for (const d of definitions) for (const s of d.steps as Step[]) typeOf.set(`${d.version}|${s.id}`, s.type);
  const stepRow = (v: number, step: string) =>
    grouped(steps, `${v}|${step}`, () => ({
      version: v,
      step,
      type: typeOf.get(`${v}|${step}`) ?? 'unknown',
      reached: 0,
      ...emptyMessages(),
    }));
  const versionRow = (v: number) =>
    grouped(versions, String(v), () => ({ version: v, entered: 0, sent: 0, converted: 0, cents: 0 }));
  for (const d of definitions) {
    if (only !== null && d.version !== only) continue;
    versionRow(d.version);
    for (const s of d.steps) stepRow(d.version, s.id);
  }

  // Fields are `<prefix>|<hour>`: each distinct prefix is split and resolved to its rows once, and
  // each field costs a lookup and a few additions (a journey can have hundreds of thousands).
  const handlerOf = (prefix: string): Tally | null => {
    const f = prefix.split('|');
    const v = Number(f[1]);
    if (only !== null && v !== only) return null;
    const inRange = (hour: number) => days.dayOf(hour) >= 0;
    switch (f[0]) {
      case 'e': {
        const g = groupOf(f[2]);
        return (hour, n) => {
          const day = days.dayOf(hour);
          if (day < 0) return;
          group[g].entered += n;
          if (g === 'c') return;
          daily[day].entered += n;
          cohorts[day].entered += n;
          if (g === 'h') cohorts[day].holdoutEntered += n;
          versionRow(v).entered += n;
        };
      }
      case 'x':
        return (hour, n) => {
          if (inRange(hour)) stepRow(v, f[2]).reached += n;
        };
      case 'b':
        return (hour, n) => {
          if (!inRange(hour)) return;
          const key = `${v}|${f[2]}|${f[3]}`;
          grouped(branches, key, () => ({ version: v, step: f[2], path: f[3], count: 0 })).count += n;
        };
      case 'z':
        return (hour, n) => {
          if (inRange(hour))
            grouped(exits, `${v}|${f[2]}`, () => ({ version: v, reason: f[2], count: 0 })).count += n;
        };
      case 'm': {
        const key = STATUS_FIELD[f[5]];
        if (!key) return null;
        let rows: MessageCounts[] | null = null;
        return (hour, n) => {
          const day = days.dayOf(hour);
          if (day < 0) return;
          rows ??= messageRows(v, f[2], f[3], f[4]);
          for (const row of rows) row[key] += n;
          if (key === 'sent') {
            daily[day].sent += n;
            versionRow(v).sent += n;
          } else if (key === 'delivered') daily[day].delivered += n;
          else if (key === 'clicked') daily[day].clicked += n;
        };
      }
      case 'c': {
        const g = groupOf(f[2]);
        const entryHour = Number(f[3]);
        const entryDay = days.dayOf(entryHour);
        return (hour, n) => {
          if (entryDay >= 0) {
            group[g].converted += n;
            const d = days.daysBetween(entryHour, hour);
            for (let i = Math.max(0, d); i <= CURVE_DAYS; i++) curve[g][i] += n;
          }
          if (g === 'c') return;
          const eventDay = days.dayOf(hour);
          if (eventDay >= 0) daily[eventDay].converted += n;
          if (entryDay < 0) return;
          cohorts[entryDay].converted += n;
          if (g === 'h') cohorts[entryDay].holdoutConverted += n;
          versionRow(v).converted += n;
        };
      }
      case 'o':
        if (groupOf(f[2]) === 'c') return null;
        return (hour, n) => {
          if (inRange(hour)) orders += n;
        };
      case 're': {
        const g = groupOf(f[2]);
        return (hour, n) => {
          const entryDay = days.dayOf(hour);
          if (entryDay < 0) return;
          group[g].cents += n;
          if (g === 'c') return;
          cohortCents[entryDay] += n;
          versionRow(v).cents += n;
        };
      }
      case 'rd':
        if (groupOf(f[2]) === 'c') return null;
        return (hour, n) => {
          const day = days.dayOf(hour);
          if (day >= 0) dailyCents[day] += n;
        };
      case 'cm':
      case 'rm':
      case 'mc': {
        const key: keyof MessageCounts =
          f[0] === 'cm' ? 'converted' : f[0] === 'rm' ? 'revenue' : 'messagesConverted';
        let rows: MessageCounts[] | null = null;
        return (hour, n) => {
          if (!inRange(hour)) return;
          rows ??= messageRows(v, f[2], f[3], f[4]);
          for (const row of rows) row[key] += n;
        };
      }
      default:
        return null;
    }
  };
  const handlers = new Map<string, Tally | null>();
  for (const day of counters)
    for (const [name, n] of day) {
      const cut = name.lastIndexOf('|');
      const prefix = name.slice(0, cut);
      let handler = handlers.get(prefix);
      if (handler === undefined) handlers.set(prefix, (handler = handlerOf(prefix)));
      if (handler) handler(Number(name.slice(cut + 1)), n);
    }

  function messageRows(v: number, step: string, channel: string, template: string): MessageCounts[] {
    return [
      stepRow(v, step),
      grouped(channels, channel, () => ({ channel, ...emptyMessages() })),
      grouped(variants, `${step}|${template}`, () => ({ step, template, ...emptyMessages() })),
    ];
  }

  const cents = (rows: Iterable<MessageCounts>) => {
    for (const row of rows) row.revenue = money(row.revenue);
  };
  cents(steps.values());
  cents(channels.values());
  cents(variants.values());
  const entered = group.t.entered + group.h.entered;
  const converted = group.t.converted + group.h.converted;
  const totalSent = daily.reduce((sum, d) => sum + d.sent, 0);
  const groupTotals = (g: Group): GroupTotals => ({
    entered: group[g].entered,
    converted: group[g].converted,
    conversionRate: rate(group[g].converted, group[g].entered),
    revenue: money(group[g].cents),
  });
  const curvePoints = (g: Group): CurvePoint[] =>
    curve[g].map((c, day) => ({ day, converted: c, rate: rate(c, group[g].entered) }));
  let ltOrders = 0;
  let ltCents = 0;
  for (const [name, n] of input.workspace.flatMap((day) => [...day])) {
    const f = name.split('|');
    if ((f[0] !== 'lt' && f[0] !== 'ltr') || f[1] !== journeyId || days.dayOf(Number(f[2])) < 0) continue;
    if (f[0] === 'lt') ltOrders += n;
    else ltCents += n;
  }
  const latest = definitions[definitions.length - 1];
  const order = new Map<string, number>();
  for (const d of definitions) d.steps.forEach((s, i) => order.set(s.id, Math.min(order.get(s.id) ?? i, i)));
  const stepOrder = (step: string) => order.get(step) ?? Number.MAX_SAFE_INTEGER;
  return {
    journey: { id: journeyId, name: latest?.name ?? journeyId, versions: definitions.map((d) => d.version) },
    range,
    version: only,
    totals: {
      entered,
      sent: totalSent,
      delivered: daily.reduce((sum, d) => sum + d.delivered, 0),
      clicked: daily.reduce((sum, d) => sum + d.clicked, 0),
      converted,
      conversionRate: rate(converted, entered),
      revenue: money(group.t.cents + group.h.cents),
      orders,
    },
    treatment: groupTotals('t'),
    holdout: groupTotals('h'),
    uplift: uplift(group.t, group.h),
    globalControl: groupTotals('c'),
    controlUplift: uplift(group.t, group.c),
    lastTouch: { orders: ltOrders, revenue: money(ltCents) },
    daily: daily.map((d, i) => ({ ...d, revenue: money(dailyCents[i]) })),
    cohorts: cohorts.map((c, i) => ({
      ...c,
      conversionRate: rate(c.converted, c.entered),
      revenue: money(cohortCents[i]),
      open: input.now !== undefined && window > 0 && input.now < openUntil(i),
    })),
    curve: { treatment: curvePoints('t'), holdout: curvePoints('h'), globalControl: curvePoints('c') },
    steps: [...steps.values()],
    branches: [...branches.values()].sort(
      (a, b) =>
        a.version - b.version || stepOrder(a.step) - stepOrder(b.step) || a.path.localeCompare(b.path),
    ),
    exits: [...exits.values()].sort((a, b) => a.version - b.version || a.reason.localeCompare(b.reason)),
    channels: [...channels.values()].sort((a, b) => a.channel.localeCompare(b.channel)),
    variants: [...variants.values()].sort(
      (a, b) => stepOrder(a.step) - stepOrder(b.step) || a.template.localeCompare(b.template),
    ),
    versions: [...versions.values()]
      .sort((a, b) => a.version - b.version)
      .map(({ cents: c, ...row }) => ({
        ...row,
        conversionRate: rate(row.converted, row.entered),
        revenue: money(c),
      })),
  };
}
