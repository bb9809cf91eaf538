/**
 * Conversion attribution, decided on the profile inside the commit of the event that
 * causes it. Every enrollment keeps a window on the user's profile: its messages (with the time each
 * left) and the goal events ("orders") that fell inside it. After each change the window's counter
 * contributions are computed afresh from what it holds and the difference goes into the commit, so
 * the counters equal the sum of every window's contribution whatever the order events arrived in:
 * a late, earlier goal event moves the conversion (and its credit) to it.
 *
 * - An enrollment converts once, at its first goal event within `within` of entry (event time).
 * - Revenue counts each order id once per journey, and once in the workspace's last-touch view.
 * - Inside an enrollment, the last message sent before a goal event gets its credit; each message
 *   also has its own window from its send (`mc`: a goal event came within `within` of it).
 * - Holdout users convert by the same rule; they have no messages to credit.
 * - A window is kept until every message in it has its outcome recorded and the late grace has
 *   passed since it closed; a goal event counts exactly while its window is kept.
 */
import type { Json } from '../model/json.ts';
import { drivesJourneys, type StoredEvent } from '../model/events.ts';
import { addCount } from '../ports/store.ts';
import type { Profile } from '../model/profile.ts';
import type { CompiledGoal } from '../journeys/compile.ts';
import { valueAtPath } from '../journeys/enrollment.ts';
import type { JourneySet } from '../journeys/journey-set.ts';
import { profileContext } from '../segments/context.ts';
import { holds } from '../segments/membership.ts';
import { bucket, countAt, countJourneyLog } from './counters.ts';
import type { ConversionWindow, Counts, WindowMessage, WindowOrder } from '../model/conversions.ts';

export interface AttributionOptions {
  journeys: JourneySet;
  now: number;
  /** The workspace's zone, for goal conditions on users without one. */
  timezone: string;
  /** How long after a window closes a late goal event still counts (the late grace). */
  graceMs: number;
  /** The user's recent calls, for goal events that arrived before the trigger that opens a window. */
  recent?: readonly StoredEvent[];
}

/** How long an order id is remembered as counted (posted again later, it counts again). */
const ORDER_MEMORY_MS = 90 * 24 * 3_600_000;
const MAX_ORDER_MARKS = 500;

/** At most this many windows per user (the oldest closed ones go first). */
const MAX_WINDOWS = 100;

const str = (value: Json | undefined): string => (typeof value === 'string' ? value : String(value));

/**
 * When a window closes: `within` after entry or after its last send, whichever is later (a message
 * not handed over yet counts from when it was decided, so a goal event that comes in the same
 * request as its trigger finds the window its message will have).
 */
const closesAt = (w: ConversionWindow): number =>
  Math.max(w.enteredAt, ...w.messages.map((m) => m.sentAt ?? (m.settled ? 0 : (m.queuedAt ?? 0)))) + w.within;

/**
 * The report counts of a commit: those of its journey log entries, and the attribution changes its
 * events make to the user's windows (kept on `profile.conversions`).
 */
export function reportCounts(
  profile: Profile,
  events: readonly StoredEvent[],
  options: AttributionOptions,
): Counts {
  const counts: Counts = {};
  countJourneyLog(counts, events);
  const windows = profile.conversions ?? [];
  const byEnrollment = new Map(windows.map((w) => [w.enrollmentId, w]));
  const goalOf = (w: ConversionWindow) => options.journeys.version(w.journeyId, w.version)?.goal ?? null;
  let changed = false;
  const opened: ConversionWindow[] = [];

  // The journey log first: a batch's calls come before the decisions they caused in `events`, and a
  // goal event in the same batch as the trigger must find the window open.
  for (const e of events) {
    if (e.type !== 'internal') continue;
    const p = e.properties ?? {};
    const known = typeof p.enrollmentId === 'string' ? byEnrollment.get(p.enrollmentId) : undefined;
    if ((e.event === 'journey_entered' || e.event === 'journey_held') && !known) {
      const goal = options.journeys.version(str(p.journeyId), Number(p.version))?.goal;
      // A journey without a goal has nothing to attribute: its enrollments keep no window.
      if (!goal) continue;
      const window: ConversionWindow = {
        journeyId: str(p.journeyId),
        version: Number(p.version),
        enrollmentId: str(p.enrollmentId),
        group: e.event === 'journey_held' ? 'c' : p.holdout ? 'h' : 't',
        enteredAt: e.timestamp,
        within: goal.within,
        messages: [],
        orders: [],
        counted: {},
      };
      windows.push(window);
      opened.push(window);
      byEnrollment.set(window.enrollmentId, window);
      changed = true;
    } else if (e.event === 'message_sent' && known && p.status === 'queued') {
      if (!known.messages.some((m) => m.id === p.messageId)) {
        const { messageId, step, channel, template } = p;
        known.messages.push({
          id: str(messageId),
          step: str(step),
          channel: str(channel),
          template: str(template),
          sentAt: null,
          queuedAt: e.timestamp,
        });
      }
    } else if (e.event === 'message_status' && known) {
      const message = known.messages.find((m) => m.id === p.messageId);
      if (message && (p.status === 'sent' || p.status === 'sandbox') && message.sentAt === null) {
        message.sentAt = e.timestamp;
        message.settled = true;
        changed = true;
      } else if (message && (p.status === 'skipped' || p.status === 'failed')) message.settled = true;
    }
  }
  // Goal events that arrived before the trigger (its windows were not open then).
  for (const e of options.recent ?? []) {
    if (opened.length > 0 && drivesJourneys(e) && addGoalEvent(profile, opened, e, goalOf, options))
      changed = true;
  }
  for (const e of events) {
    if (drivesJourneys(e) && addGoalEvent(profile, windows, e, goalOf, options)) changed = true;
  }

  // Every window this commit changed is counted, also one let go below (a goal event that came just
  // before its window closed for good).
  if (changed) {
    for (const w of windows) {
      const cells = cellsOf(w, windows, goalOf(w));
      for (const scope of new Set([...Object.keys(cells), ...Object.keys(w.counted)])) {
        const now = cells[scope] ?? {};
        const before = w.counted[scope] ?? {};
        for (const f of new Set([...Object.keys(now), ...Object.keys(before)]))
          addCount(counts, scope, f, (now[f] ?? 0) - (before[f] ?? 0));
      }
      w.counted = cells;
    }
  }
  const kept = windows.filter(
    (w) =>
      profile.journeys?.[w.journeyId]?.active?.id === w.enrollmentId ||
      w.messages.some((m) => !m.settled && m.sentAt === null) ||
      closesAt(w) + options.graceMs >= options.now,
  );
  const trimmed = kept.slice(Math.max(0, kept.length - MAX_WINDOWS));
  if (profile.countedOrders) {
    const marks = profile.countedOrders.filter((m) => m.at >= options.now - ORDER_MEMORY_MS);
    if (marks.length > 0) profile.countedOrders = marks.slice(Math.max(0, marks.length - MAX_ORDER_MARKS));
    else delete profile.countedOrders;
  }
  if (trimmed.length > 0) profile.conversions = trimmed;
  else delete profile.conversions;
  for (const scope of Object.keys(counts)) if (Object.keys(counts[scope]).length === 0) delete counts[scope];
  return counts;
}

/** Puts a goal event into the windows whose goal it meets and whose span holds it; true if any. */
function addGoalEvent(
  profile: Profile,
  windows: readonly ConversionWindow[],
  e: StoredEvent,
  goalOf: (w: ConversionWindow) => CompiledGoal | null,
  options: AttributionOptions,
): boolean {
  let added = false;
  const ordered = [...windows].sort(
    (a, b) => a.enteredAt - b.enteredAt || (a.enrollmentId < b.enrollmentId ? -1 : 1),
  );
  for (const w of ordered) {
    const goal = goalOf(w);
    if (!goal || e.timestamp < w.enteredAt || e.timestamp > closesAt(w)) continue;
    const meets = goal.segment
      ? e.type === 'internal' && e.event === 'segment_entered' && e.properties?.segmentId === goal.segment
      : e.type !== 'internal' &&
        e.event === goal.event &&
        (goal.where === null ||
          holds(goal.where, profileContext(profile, options.now, { timezone: options.timezone, event: e })));
    if (!meets) continue;
    if (w.orders.some((o) => o.event === e.messageId)) continue;
    const orderId = goal.segment ? e.messageId : orderIdOf(e, goal);
    const amount = goal.revenue ? e.properties?.[goal.revenue] : undefined;
    // Ownership is decided once, on arrival, and remembered apart from the windows: an order posted
    // again after its first window was let go must not count twice.
    const marks = (profile.countedOrders ??= []);
    const claim = (scope: string) => {
      if (marks.some((m) => m.scope === scope && m.id === orderId)) return false;
      marks.push({ scope, id: orderId, at: e.timestamp });
      return true;
    };
    const inEnrollment = e.timestamp <= w.enteredAt + w.within;
    w.orders.push({
      id: orderId,
      event: e.messageId,
      at: e.timestamp,
      cents: centsOf(amount),
      journeyOwner: inEnrollment && claim(w.journeyId),
      workspaceOwner: claim(''),
    });
    added = true;
  }
  return added;
}

function orderIdOf(e: StoredEvent, goal: CompiledGoal): string {
  for (const path of goal.orderId) {
    const id = valueAtPath(e, path);
    if (typeof id === 'string' || typeof id === 'number') return `o:${id}`;
  }
  return `e:${e.messageId}`;
}

/** Revenue in hundredths: a number, or a decimal string as some clients send it ("129.00"). */
function centsOf(amount: Json | undefined): number {
  const value = typeof amount === 'string' && /^-?\d+(\.\d+)?$/.test(amount.trim()) ? Number(amount) : amount;
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value * 100) : 0;
}

const byTime = (a: WindowOrder, b: WindowOrder) =>
  a.at - b.at || (a.event < b.event ? -1 : a.event > b.event ? 1 : 0);

/** The last message of `w` that left at or before `at` (and whose own window still holds `at`). */
function lastSent(w: ConversionWindow, at: number): WindowMessage | null {
  let found: WindowMessage | null = null;
  for (const m of w.messages) {
    if (m.sentAt === null || m.sentAt > at || at > m.sentAt + w.within) continue;
    if (!found || m.sentAt >= (found.sentAt as number)) found = m;
  }
  return found;
}

/** What a window contributes to the counters, from what it holds now. */
function cellsOf(
  w: ConversionWindow,
  windows: readonly ConversionWindow[],
  goal: CompiledGoal | null,
): Counts {
  const cells: Counts = {};
  if (!goal) return cells;
  const add = (
    parts: (string | number)[],
    hour: number,
    by: number,
    journeyId: string | null = w.journeyId,
  ) => countAt(cells, journeyId, parts, hour, by);
  const v = w.version;
  const hE = bucket(w.enteredAt);
  const orders = [...w.orders].sort(byTime);
  const inWindow = orders.filter((o) => o.at >= w.enteredAt && o.at <= w.enteredAt + w.within);
  const dims = (m: WindowMessage) => [v, m.step, m.channel, m.template] as const;

  const conversion = inWindow[0];
  if (conversion) {
    add(['c', v, w.group, hE], bucket(conversion.at), 1);
    const m = w.group === 't' ? lastSent(w, conversion.at) : null;
    if (m) add(['cm', ...dims(m)], bucket(conversion.at), 1);
  }
  for (const o of inWindow) {
    if (!o.journeyOwner) continue;
    add(['o', v, w.group], hE, 1);
    add(['re', v, w.group], hE, o.cents);
    add(['rd', v, w.group], bucket(o.at), o.cents);
    const m = w.group === 't' ? lastSent(w, o.at) : null;
    if (m) add(['rm', ...dims(m)], bucket(o.at), o.cents);
  }
  for (const m of w.messages) {
    if (m.sentAt === null) continue;
    const start = m.sentAt;
    if (orders.some((o) => o.at >= start && o.at <= start + w.within))
      add(['mc', ...dims(m)], bucket(start), 1);
  }
  // The workspace's last-touch view: the order goes to the last message sent before it, in any journey.
  for (const o of orders) {
    if (!o.workspaceOwner) continue;
    let touch: { journeyId: string; at: number } | null = null;
    for (const x of windows) {
      if (x.group !== 't') continue;
      const m = lastSent(x, o.at);
      if (m && (!touch || (m.sentAt as number) > touch.at))
        touch = { journeyId: x.journeyId, at: m.sentAt as number };
    }
    if (!touch) continue;
    add(['lt', touch.journeyId], bucket(o.at), 1, null);
    add(['ltr', touch.journeyId], bucket(o.at), o.cents, null);
  }
  return cells;
}
