import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import type { LifecycleConfig } from './config.ts';
import type { LifecycleChange } from './decide.ts';
import { mergeTimelines, recordEvent, replay } from './timeline.ts';
import type { ActivityTimeline } from '../model/lifecycle.ts';

/** Behaviour counts for the lifecycle; identify and alias calls are profile updates, not activity. */
const BEHAVIOUR = new Set(['track', 'page', 'screen']);

function changed(change: LifecycleChange, now: number): StoredEvent {
  return lifecycleMove(change.from, change.to, change.at, now);
}

/** The internal event announcing a move, stamped `at`. */
export function lifecycleMove(
  from: string | null,
  to: string | null,
  at: number,
  now: number = at,
): StoredEvent {
  return {
    // One id per move: re-deciding it (a retried commit, a late event replayed) stores it once.
    messageId: `lifecycle_changed:${from}:${to}:${at}`,
    type: 'internal',
    event: 'lifecycle_changed',
    properties: { from, to },
    timestamp: at,
    receivedAt: now,
  };
}

/**
 * Moves the profile's lifecycle to what its activity implies at `now`; returns the moves that the
 * previous timeline did not already imply at `now` (a move an out-of-order event makes obsolete
 * stays stored: it was announced).
 */
function settle(
  profile: Profile,
  before: ActivityTimeline | undefined,
  now: number,
  config: LifecycleConfig,
): StoredEvent[] {
  const after = profile.activity;
  if (!after) return [];
  const next = replay(after, now, config);
  profile.lifecycle = { state: next.state, since: next.since };
  const known = new Set(
    before ? replay(before, now, config).history.map((c) => `${c.from}>${c.to}@${c.at}`) : [],
  );
  return next.history.filter((c) => !known.has(`${c.from}>${c.to}@${c.at}`)).map((c) => changed(c, now));
}

/** An event of the user's: counts it as activity (or a conversion) and settles the lifecycle. */
export function lifecycleOnEvent(
  profile: Profile,
  event: StoredEvent,
  now: number,
  config: LifecycleConfig,
): StoredEvent[] {
  if (!BEHAVIOUR.has(event.type)) return [];
  const before = profile.activity;
  // A timestamp ahead of the engine's clock counts as now: the lifecycle never runs ahead of time.
  profile.activity = recordEvent(
    before ?? null,
    { name: event.event, timestamp: Math.min(event.timestamp, now) },
    config,
  );
  return settle(profile, before, now, config);
}

/** Time has passed (the user's timer): the moves that became due. */
export function lifecycleOverTime(
  profile: Profile,
  since: number,
  now: number,
  config: LifecycleConfig,
): StoredEvent[] {
  const activity = profile.activity;
  if (!activity) return [];
  const previous = replay(activity, since, config).history.map((c) => `${c.from}>${c.to}@${c.at}`);
  const next = replay(activity, now, config);
  profile.lifecycle = { state: next.state, since: next.since };
  const known = new Set(previous);
  return next.history.filter((c) => !known.has(`${c.from}>${c.to}@${c.at}`)).map((c) => changed(c, now));
}

/** An anonymous visitor's activity joins the user's. */
export function mergeLifecycle(
  into: Profile,
  absorbed: Profile,
  now: number,
  config: LifecycleConfig,
): StoredEvent[] {
  if (!absorbed.activity) return [];
  const before = into.activity;
  into.activity = before ? mergeTimelines(before, absorbed.activity, config) : absorbed.activity;
  return settle(into, before, now, config);
}
