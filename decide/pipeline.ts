import { reportCounts } from '../conversions/attribution.ts';
import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import {
  aggregateEventOf,
  backfill,
  emptyAggregate,
  mergeAggregates,
  recordEvent,
} from '../rules/aggregates.ts';
import { backfillEventTimes, recordEventTime } from '../rules/event-times.ts';
import { profileContext } from '../segments/context.ts';
import { updateMembership } from '../segments/moves.ts';
import { applyTagRules } from '../segments/tag-rules.ts';
import { lifecycleMove, lifecycleOnEvent, mergeLifecycle } from '../lifecycle/profile-lifecycle.ts';
import type { Workspace } from '../workspace/workspace.ts';
import {
  type JourneyRunOptions,
  journeysOnEvents,
  journeysOverTime,
  mergeJourneys,
} from '../journeys/runtime.ts';
import { changedProfile } from '../journeys/walk.ts';
import type { WebhookOutcomes } from '../journeys/webhook.ts';
import type { AggregateState } from '../model/aggregates.ts';
import type { Counts } from '../model/conversions.ts';

/**
 * Keeps a profile's materialised aggregates, event times, segment memberships and segment tags
 * current after one of its events; returns the `segment_entered` / `segment_exited` events raised.
 * Only the segments the event can change are evaluated (the workspace's dependency index).
 */
export function updateForEvent(
  profile: Profile,
  event: StoredEvent,
  now: number,
  workspace: Workspace,
): StoredEvent[] {
  if (event.type === 'internal') return [];
  const raised = lifecycleOnEvent(profile, event, now, workspace.lifecycle);
  const aggregates = workspace.aggregatesFor(event.event);
  if (aggregates.length > 0) {
    const input = aggregateEventOf(event);
    const states = { ...profile.aggregates };
    for (const a of aggregates)
      states[a.id] = recordEvent(states[a.id] ?? emptyAggregate(), a.spec, input, a.filter);
    profile.aggregates = states;
  }
  if (workspace.trackedEvents.has(event.event)) {
    profile.eventTimes = recordEventTime(
      profile.eventTimes ?? {},
      event.event,
      event.timestamp,
      workspace.trackedEvents,
    );
  }

  raised.push(...updateMembership(profile, workspace.segmentsFor(event.event), event, now, workspace));
  const rules = workspace.tagRulesFor(event.event);
  if (rules.length > 0) {
    // Rebuilt per rule: a rule sees the tags the rules before it (and segments) set.
    const context = () => profileContext(profile, now, { timezone: workspace.timezone, event });
    raised.push(...applyTagRules(profile, rules, event, now, context));
  }
  return raised;
}

/**
 * Folds an absorbed profile's materialised state (aggregates, event times, lifecycle activity) into
 * the user's (see profiles/apply.ts mergeProfile); returns the lifecycle moves it causes.
 */
export function mergeMaterialised(
  into: Profile,
  absorbed: Profile,
  now: number,
  workspace: Workspace,
): StoredEvent[] {
  if (absorbed.aggregates) {
    const states = { ...into.aggregates };
    for (const a of workspace.aggregates) {
      const other = absorbed.aggregates[a.id];
      if (other) states[a.id] = mergeAggregates(a.spec, states[a.id] ?? emptyAggregate(), other);
    }
    into.aggregates = states;
  }
  for (const [name, [first, last]] of Object.entries(absorbed.eventTimes ?? {})) {
    let times = recordEventTime(into.eventTimes ?? {}, name, first, workspace.trackedEvents);
    times = recordEventTime(times, name, last, workspace.trackedEvents);
    into.eventTimes = times;
  }
  return [...mergeLifecycle(into, absorbed, now, workspace.lifecycle), ...mergeJourneys(into, absorbed, now)];
}

/**
 * Rebuilds what the profile keeps for the workspace (aggregates, event times, lifecycle activity)
 * from its stored history: after a publication that reads something new, or a lifecycle change.
 */
export function rematerialise(
  profile: Profile,
  history: readonly StoredEvent[],
  now: number,
  workspace: Workspace,
): StoredEvent[] {
  const calls = history.filter((e) => e.type !== 'internal');
  const events = calls.map(aggregateEventOf);
  const aggregates: Record<string, AggregateState> = {};
  for (const a of workspace.aggregates) aggregates[a.id] = backfill(a.spec, events, a.filter);
  profile.aggregates = aggregates;
  profile.eventTimes = backfillEventTimes(events, workspace.trackedEvents);
  // The lifecycle is replayed under the live config, silently: the moves it implies in the past
  // never happened. If that leaves the user in another state than the one announced, that one move
  // is announced now.
  const announced = profile.lifecycle?.state ?? null;
  profile.activity = undefined;
  for (const e of [...calls].sort((a, b) => a.timestamp - b.timestamp))
    lifecycleOnEvent(profile, e, now, workspace.lifecycle);
  const state = profile.lifecycle?.state ?? null;
  const raised = state === announced ? [] : [lifecycleMove(announced, state, now)];
  profile.materialisedFor = workspace.materialisation;
  return raised;
}

const journeyOptions = (workspace: Workspace, now: number, webhooks?: WebhookOutcomes) => ({
  journeys: workspace.journeys,
  now,
  timezone: workspace.timezone,
  globalControl: workspace.definitions.globalControl ?? null,
  webhooks: workspace.definitions.dryRun ? ('skip' as const) : webhooks,
});

/**
 * The report counters a commit moves: its journey log and the conversions its events make. Goal
 * events count while their window is kept, up to `lateGraceMs` after it closed.
 */
export const commitCounts = (
  profile: Profile,
  events: readonly StoredEvent[],
  now: number,
  workspace: Workspace,
  lateGraceMs: number,
  recent: readonly StoredEvent[] = [],
): Counts =>
  reportCounts(profile, events, {
    journeys: workspace.journeys,
    now,
    timezone: workspace.timezone,
    graceMs: lateGraceMs,
    recent,
  });

/**
 * The journeys' reaction to events just decided for this user (calls and the engine's own:
 * segment and lifecycle moves). Tags and traits the journeys set may move the user in or out of
 * segments; those moves reach the journeys too, once (no further rounds).
 */
export function runJourneys(
  profile: Profile,
  events: readonly StoredEvent[],
  now: number,
  workspace: Workspace,
  recent: readonly StoredEvent[] = [],
): StoredEvent[] {
  const options = { ...journeyOptions(workspace, now), recent };
  return withSegmentMoves(profile, journeysOnEvents(profile, events, options), now, workspace, options);
}

/** Journey timers that fell due, and what their steps cause (as `runJourneys`). */
export function runJourneyTimers(
  profile: Profile,
  now: number,
  workspace: Workspace,
  webhooks?: WebhookOutcomes,
): StoredEvent[] {
  const options = journeyOptions(workspace, now, webhooks);
  return withSegmentMoves(profile, journeysOverTime(profile, options), now, workspace, options);
}

/** The journey log, plus the segment moves its tag and trait steps caused and the journeys' answer to them. */
function withSegmentMoves(
  profile: Profile,
  log: StoredEvent[],
  now: number,
  workspace: Workspace,
  options: JourneyRunOptions,
): StoredEvent[] {
  if (!log.some(changedProfile)) return log;
  const cause = { messageId: log[log.length - 1].messageId, timestamp: now };
  const moves = updateMembership(profile, workspace.profileReadingSegments, cause, now, workspace);
  return [...log, ...moves, ...journeysOnEvents(profile, moves, options)];
}
