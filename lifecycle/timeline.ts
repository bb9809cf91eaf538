/**
 * Lifecycle as a pure function of the SET of a user's events (the outcome of a
 * stream must not depend on worker count). decide.ts moves a state event by event, so its record
 * depends on the order in which workers deliver the events; here the events are folded into an
 * order-independent summary, the ActivityTimeline, and the lifecycle is replayed from it.
 *
 * The timeline. firstSeenAt = earliest event of any kind; convertedAt = earliest conversion event;
 * spans = the activity instants (conversions always count, system events never do, as in
 * config.ts) grouped into connected components under "gap < activeWithin": two activities closer
 * than activeWithin are in one span, so within a span the user is never quiet. Each field is a
 * min, a max or a connected component of the set, so recordEvent in any order, and mergeTimelines
 * of any split, give deep-equal timelines.
 *
 * Bounding (at most SPAN_LIMIT = 24 spans). Dropping "the oldest spans beyond 24" cannot be order
 * independent: a late event that bridges a dropped span and the oldest kept one must stretch the
 * kept span back to the dropped span's start, which is gone. Instead the cut is a horizon that
 * only moves forward as events are added: horizon = latest activity - 22 x activeWithin. All spans
 * that start before the horizon are folded into one span [earliest activity, latest end among
 * them]; spans starting at or after it are exact. Spans after the horizon are separated by at least
 * activeWithin, so there are at most 23 of them, plus the folded one. What folding means: when two
 * or more spans are older than the horizon, replay sees the folded stretch as continuous activity,
 * so the moves INSIDE it (its dormant / churned / reactivated spells, and how `new` ended when the
 * first span is in it) are lost; they are older than 22 x activeWithin before the latest activity
 * and only show in a history whose newest HISTORY_LIMIT moves reach back that far. The current
 * state, its `since`, the moves from the folded span onwards, firstSeenAt and convertedAt are exact.
 * A single old span is never folded (folding one span changes nothing).
 *
 * Replay: the moves, stamped with the instant their rule became true. quiet(span) = span end +
 * activeWithin. At one instant, time-driven rules apply before the events of that instant (as in
 * decide.ts, where a call first catches up to an event's time and then applies the event).
 *
 * | from             | cause                                        | to                         | stamped at   |
 * |------------------|----------------------------------------------|----------------------------|--------------|
 * | (no state)       | earliest event, not a conversion             | new                        | firstSeenAt  |
 * | (no state)       | earliest event is a conversion               | active                     | firstSeenAt  |
 * |                  | (convertedAt = firstSeenAt)                  |                            |              |
 * | new              | convertedAt, if before both times below      | active                     | convertedAt  |
 * | new              | earliest of firstSeenAt + newFor,            | active if a span started   | that time    |
 * |                  | quiet(first span)                            | before it and is not quiet |              |
 * |                  |                                              | yet, else dormant          |              |
 * | active           | quiet(its span)                              | dormant                    | quiet time   |
 * | dormant          | churnAfter after the last activity           | churned                    | that time    |
 * |                  | (firstSeenAt if none), if the next span      |                            |              |
 * |                  | starts then or later, or there is none       |                            |              |
 * | dormant, churned | the next span starts                         | reactivated (active when   | span start   |
 * |                  |                                              | reactivatedFor is off)     |              |
 * | reactivated      | earliest of its start + reactivatedFor,      | active if quiet is later,  | that time    |
 * |                  | quiet(its span)                              | else dormant               |              |
 *
 * Nothing else moves a user: activity while new, active or reactivated extends the span. A config
 * without churnAfter / reactivatedFor never produces churned / reactivated (replay recomputes
 * everything with the config it is given). Every change has from !== to; stamps never decrease.
 *
 * Agreement with decide.ts: for events delivered in time order, with distinct timestamps and no
 * folding, replay's moves are exactly the ones decide.ts records (test/lifecycle/timeline.test.ts
 * checks this). Ties at one instant are resolved by the rule above, not by arrival order; a
 * conversion and another event both at firstSeenAt start the user as active.
 *
 * Limits, for the caller. Event time is taken as given: clamp future timestamps to the ingest
 * clock before recording (as decide.ts does). The timeline depends on activeWithin and on which
 * events are activity or conversions: after such a config change, rebuild it from the events.
 * A late event can change moves that an earlier replay already reported (that is the point: the
 * result depends on the set, not on when it arrived); the caller decides what to emit for that.
 * No I/O, no clock: `now` is always an argument.
 */
import { type LifecycleConfig, type LifecycleRules, lifecycleRules } from './config.ts';
import { HISTORY_LIMIT, type LifecycleChange } from './decide.ts';
import type { ActivityTimeline, LifecycleStage, Span } from '../model/lifecycle.ts';

export interface LifecycleReplay {
  state: LifecycleStage;
  since: number;
  /** Every move with at <= now, oldest first; the newest HISTORY_LIMIT. */
  history: LifecycleChange[];
}

export const SPAN_LIMIT = 24;

/**
 * The canonical spans of a set of solid intervals: connected components under "gap < w", then
 * every component that starts before the horizon folded into one. The horizon depends only on the
 * latest end, which only grows as events are added, so folding commutes with adding events.
 */
function normalize(spans: readonly (readonly [number, number])[], w: number): Span[] {
  const sorted = [...spans].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Span[] = [];
  for (const [start, end] of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && start - last[1] < w) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  if (merged.length === 0) return merged;
  const horizon = merged[merged.length - 1][1] - (SPAN_LIMIT - 2) * w;
  let old = 0;
  while (old < merged.length && merged[old][0] < horizon) old++;
  if (old <= 1) return merged;
  // spans are disjoint and sorted, so the last folded one has the latest end among them
  return [[merged[0][0], merged[old - 1][1]], ...merged.slice(old)];
}

const minOf = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

/** The union of two timelines (e.g. an anonymous visitor's history joining the user's). */
export function mergeTimelines(
  a: ActivityTimeline,
  b: ActivityTimeline,
  config: LifecycleConfig,
): ActivityTimeline {
  return {
    firstSeenAt: Math.min(a.firstSeenAt, b.firstSeenAt),
    convertedAt: minOf(a.convertedAt, b.convertedAt),
    spans: normalize([...a.spans, ...b.spans], lifecycleRules(config).activeWithin),
  };
}

/** Adds one event (null: the user's first). The same set of events, in any order, gives deep-equal timelines. */
export function recordEvent(
  t: ActivityTimeline | null,
  event: { name: string; timestamp: number },
  config: LifecycleConfig,
): ActivityTimeline {
  const at = event.timestamp;
  if (!Number.isFinite(at)) throw new RangeError(`lifecycle: event time ${at} is not a finite number`);
  const r = lifecycleRules(config);
  const single: ActivityTimeline = {
    firstSeenAt: at,
    convertedAt: r.isConversion(event.name) ? at : null,
    spans: r.isActivity(event.name) ? [[at, at]] : [],
  };
  return t === null ? single : mergeTimelines(t, single, config);
}

/** Where moves() is: the moves so far and, while dormant, since when and what comes next. */
interface Walk {
  changes: LifecycleChange[];
  stage: LifecycleStage | null;
  since: number;
  /** The last activity before the dormant spell. */
  last: number;
  /** The first span that has not started yet. */
  next: number;
}

// Module functions, not closures in moves(): it runs for every decision, and the loader's keep-names
// helper makes each closure created there cost a property definition.
function go(walk: Walk, to: LifecycleStage, at: number): void {
  walk.changes.push({ from: walk.stage, to, at });
  walk.stage = to;
}

function goDormant(walk: Walk, at: number, lastActivity: number, nextSpan: number): void {
  go(walk, 'dormant', at);
  walk.since = at;
  walk.last = lastActivity;
  walk.next = nextSpan;
}

/** The latest span starting before `at` (or at it, when `inclusive`); -1 if none. */
function latest(spans: ActivityTimeline['spans'], at: number, inclusive: boolean): number {
  let i = -1;
  while (i + 1 < spans.length && (spans[i + 1][0] < at || (inclusive && spans[i + 1][0] === at))) i++;
  return i;
}

function covering(spans: ActivityTimeline['spans'], at: number): number {
  const i = latest(spans, at, true);
  if (i < 0 || spans[i][1] < at)
    throw new RangeError('lifecycle: convertedAt is not in a span; not a timeline from recordEvent');
  return i;
}

/** Every move the timeline implies, with no cut-off in time, oldest first. */
function moves(t: ActivityTimeline, r: LifecycleRules): LifecycleChange[] {
  const { spans, firstSeenAt: first, convertedAt: converted } = t;
  const w = r.activeWithin;
  const returnTo: LifecycleStage = r.reactivatedFor === null ? 'active' : 'reactivated';
  // The user is in span `current` (active, reactivated), or dormant since `walk.since` with the last
  // activity at `walk.last` and `walk.next` the first span that has not started yet.
  const walk: Walk = { changes: [], stage: null, since: first, last: first, next: 0 };
  let mode: 'active' | 'reactivated' | 'dormant' = 'dormant';
  let current = -1;

  if (converted === first) {
    go(walk, 'active', first);
    mode = 'active';
    current = covering(spans, first);
  } else {
    go(walk, 'new', first);
    const timed = Math.min(first + r.newFor, spans.length > 0 ? spans[0][1] + w : Infinity);
    if (converted !== null && converted < timed) {
      go(walk, 'active', converted);
      mode = 'active';
      current = covering(spans, converted);
    } else {
      const before = latest(spans, timed, false); // time-driven: the activity strictly before counts
      if (before >= 0 && spans[before][1] + w > timed) {
        go(walk, 'active', timed);
        mode = 'active';
        current = before;
      } else goDormant(walk, timed, before >= 0 ? spans[before][1] : first, before + 1); // stays dormant
    }
  }

  // Terminates: every pass either consumes a span or ends.
  for (;;) {
    if (mode === 'active') {
      const end = spans[current][1];
      goDormant(walk, end + w, end, current + 1);
      mode = 'dormant';
    } else if (mode === 'reactivated') {
      const [start, end] = spans[current];
      const settle = start + (r.reactivatedFor ?? 0);
      if (settle < end + w) {
        go(walk, 'active', settle);
        mode = 'active';
      } else {
        goDormant(walk, end + w, end, current + 1);
        mode = 'dormant';
      }
    } else {
      const churnAt = r.churnAfter === null ? Infinity : Math.max(walk.last + r.churnAfter, walk.since);
      const returnAt = walk.next < spans.length ? spans[walk.next][0] : Infinity;
      if (churnAt !== Infinity && churnAt <= returnAt) go(walk, 'churned', churnAt);
      if (returnAt === Infinity) return walk.changes;
      go(walk, returnTo, returnAt);
      mode = returnTo === 'active' ? 'active' : 'reactivated';
      current = walk.next;
    }
  }
}

/**
 * The lifecycle at `now`: every move with at <= now (the first one, creating the user, always:
 * a timeline exists only once an event was recorded), the newest HISTORY_LIMIT of them.
 * For now1 < now2 the moves at now1 are those at now2 with at <= now1.
 */
export function replay(t: ActivityTimeline, now: number, config: LifecycleConfig): LifecycleReplay {
  const all = moves(t, lifecycleRules(config));
  let n = 1;
  while (n < all.length && all[n].at <= now) n++;
  const last = all[n - 1];
  return { state: last.to, since: last.at, history: all.slice(Math.max(0, n - HISTORY_LIMIT), n) };
}

/**
 * The earliest move strictly after `now` that replay would add as time passes with no new events,
 * or null if only a new event can move the user. Schedule the user's timer at this time.
 */
export function nextTransitionAt(t: ActivityTimeline, now: number, config: LifecycleConfig): number | null {
  const all = moves(t, lifecycleRules(config));
  for (let i = 1; i < all.length; i++) if (all[i].at > now) return all[i].at;
  return null;
}
