/**
 * Lifecycle decisions: pure functions of (state, input, now, config).
 *
 * Facts kept per user: firstSeenAt (earliest event), lastActivityAt (latest activity event),
 * convertedAt (earliest conversion event), all by event time, so they do not depend on arrival
 * order. Conversion events always count as activity; system events never do.
 * quietAt = lastActivityAt + activeWithin (none while there is no activity).
 *
 * | from             | cause                                 | to                          | stamped at |
 * |------------------|---------------------------------------|-----------------------------|------------|
 * | (no state)       | first event, not a conversion         | new                         | event time |
 * | (no state)       | first event is a conversion           | active                      | event time |
 * | new              | earliest of: convertedAt,             | active if quietAt is later, | that time  |
 * |                  | firstSeenAt + newFor, quietAt         | else dormant                |            |
 * | active           | quietAt                               | dormant                     | quietAt    |
 * | dormant          | churnAfter after lastActivityAt       | churned                     | that time  |
 * |                  | (firstSeenAt if none)                 |                             |            |
 * | dormant, churned | an in-order activity event            | reactivated (active when    | event time |
 * |                  |                                       | reactivatedFor is off)      |            |
 * | reactivated      | earliest of: since + reactivatedFor,  | active if quietAt is later, | that time  |
 * |                  | quietAt                               | else dormant                |            |
 * | churned          | the config has no churnAfter          | dormant                     | since      |
 * | reactivated      | the config has no reactivatedFor      | as the row above            | since      |
 *
 * Nothing else moves a user: activity while new, active or reactivated only refreshes the facts.
 *
 * Timing. A transition is stamped with the time its rule became true, not with the `now` at which
 * it was computed: a scheduler firing up to `latency` late, or catching up after downtime, records
 * the same history as one firing exactly on time (several moves may come out of one call, each with
 * its own time). Stamps never go back in time: never before the current state's `since`.
 *
 * Events. An event's time is clamped to `now` (clock skew). An event is in order when it is not
 * flagged `late` (older than the ingest grace period) and not older than the current state's
 * `since`. For an in-order event the user is first brought up to the event's time on the facts known
 * before it, so a return that arrives before the scheduler has marked the user dormant still yields
 * dormant then reactivated. Any other event only updates the facts: it never causes a return, and a
 * move its facts make due (a late conversion ending `new`) is stamped `now`, not in the past.
 * Every call returns the state brought up to `now`.
 */
import { type LifecycleConfig, type LifecycleRules, lifecycleRules } from './config.ts';
import type { LifecycleStage } from '../model/lifecycle.ts';

/** One move; the engine emits each as one `lifecycle_changed {from, to}` at `at`. */
export interface LifecycleChange {
  from: LifecycleStage | null;
  to: LifecycleStage;
  at: number;
}

export interface LifecycleState {
  state: LifecycleStage;
  /** When the user entered `state`. */
  since: number;
  firstSeenAt: number;
  lastActivityAt: number | null;
  convertedAt: number | null;
  /** The last HISTORY_LIMIT moves, oldest first. */
  history: LifecycleChange[];
}

export interface LifecycleEvent {
  name: string;
  timestamp: number;
  late?: boolean;
}

export interface LifecycleDecision {
  state: LifecycleState;
  changes: LifecycleChange[];
}

export const HISTORY_LIMIT = 20;

/** The next time-driven move, stamped no earlier than `since` and `floor`. */
function due(s: LifecycleState, r: LifecycleRules, floor: number): { at: number; to: LifecycleStage } | null {
  const quietAt = s.lastActivityAt === null ? Infinity : s.lastActivityAt + r.activeWithin;
  const at = (t: number): number => Math.max(t, s.since, floor);
  // leaving new or reactivated: active if there was activity within activeWithin, else dormant
  const settle = (t: number) => ({
    at: at(t),
    to: s.lastActivityAt !== null && quietAt > at(t) ? ('active' as const) : ('dormant' as const),
  });
  switch (s.state) {
    case 'new':
      return settle(Math.min(s.firstSeenAt + r.newFor, quietAt, s.convertedAt ?? Infinity));
    case 'active':
      return { at: at(quietAt === Infinity ? s.since : quietAt), to: 'dormant' };
    case 'reactivated':
      return settle(r.reactivatedFor === null ? s.since : Math.min(s.since + r.reactivatedFor, quietAt));
    case 'dormant':
      return r.churnAfter === null
        ? null
        : { at: at((s.lastActivityAt ?? s.firstSeenAt) + r.churnAfter), to: 'churned' };
    case 'churned':
      return r.churnAfter === null ? { at: at(s.since), to: 'dormant' } : null;
  }
}

function move(s: LifecycleState, to: LifecycleStage, at: number, changes: LifecycleChange[]): LifecycleState {
  const change = { from: s.state, to, at };
  changes.push(change);
  return { ...s, state: to, since: at, history: [...s.history, change].slice(-HISTORY_LIMIT) };
}

function advance(state: LifecycleState, now: number, r: LifecycleRules, floor: number): LifecycleDecision {
  const changes: LifecycleChange[] = [];
  let s = state;
  // Terminates: time-driven moves only go new → active → dormant → churned (or reactivated → ...).
  for (let d = due(s, r, floor); d !== null && d.at <= now; d = due(s, r, floor))
    s = move(s, d.to, d.at, changes);
  return { state: s, changes };
}

/** Moves caused by the passage of time up to `now`. */
export function onTime(state: LifecycleState, now: number, config: LifecycleConfig): LifecycleDecision {
  return advance(state, now, lifecycleRules(config), -Infinity);
}

/** The earliest time at which onTime could move the user, or null if only an event can. */
export function nextCheckAt(state: LifecycleState, config: LifecycleConfig): number | null {
  return due(state, lifecycleRules(config), -Infinity)?.at ?? null;
}

/** Applies one event of the user's (null: the user's first). */
export function onEvent(
  state: LifecycleState | null,
  event: LifecycleEvent,
  now: number,
  config: LifecycleConfig,
): LifecycleDecision {
  const r = lifecycleRules(config);
  const t = Math.min(event.timestamp, now);
  const activity = r.isActivity(event.name);
  const conversion = r.isConversion(event.name);

  if (state === null) {
    const first: LifecycleChange = { from: null, to: conversion ? 'active' : 'new', at: t };
    const created: LifecycleState = {
      state: first.to,
      since: t,
      firstSeenAt: t,
      lastActivityAt: activity ? t : null,
      convertedAt: conversion ? t : null,
      history: [first],
    };
    const rest = advance(created, now, r, -Infinity);
    return { state: rest.state, changes: [first, ...rest.changes] };
  }

  const inOrder = !event.late && t >= state.since;
  const caughtUp = advance(state, inOrder ? t : now, r, -Infinity);
  const changes = caughtUp.changes;
  let s: LifecycleState = {
    ...caughtUp.state,
    firstSeenAt: Math.min(caughtUp.state.firstSeenAt, t),
    lastActivityAt: activity
      ? Math.max(caughtUp.state.lastActivityAt ?? t, t)
      : caughtUp.state.lastActivityAt,
    convertedAt: conversion ? Math.min(caughtUp.state.convertedAt ?? t, t) : caughtUp.state.convertedAt,
  };
  if (inOrder && activity && (s.state === 'dormant' || s.state === 'churned'))
    s = move(s, r.reactivatedFor === null ? 'active' : 'reactivated', t, changes);
  const rest = advance(s, now, r, inOrder ? -Infinity : now);
  return { state: rest.state, changes: [...changes, ...rest.changes] };
}
