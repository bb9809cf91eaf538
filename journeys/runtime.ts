/**
 * Journeys reacting to a user's events and to the passage of time: entry (in this order: global
 * holdout, reachability, audience, trigger condition, entry limits), exits, awaited events and timers.
 * Everything happens on the profile, inside the commit of the event or timer that caused it.
 */
import { drivesJourneys, type StoredEvent } from '../model/events.ts';
import type { Json } from '../model/json.ts';
import type { Profile } from '../model/profile.ts';
import { profileContext } from '../segments/context.ts';
import { holds } from '../segments/membership.ts';
import type { CompiledJourney } from './compile.ts';
import {
  emptyMemory,
  journeyBucket,
  journeyLog,
  logEntry,
  rememberAwaited,
  valueAtPath,
} from './enrollment.ts';
import type { JourneySet } from './journey-set.ts';
import type { WebhookOutcomes } from './webhook.ts';
import { awaited, CONTACT_GRACE_MS, unreachable, walk, type WalkContext, type WalkEnd } from './walk.ts';
import type { Enrollment, JourneyMemory } from '../model/journeys.ts';

/** Events the journeys write themselves: never triggers, exits or awaited events. */
const OWN_EVENTS = new Set([
  'journey_entered',
  'journey_held',
  'journey_step',
  'journey_exited',
  'message_sent',
  'message_skipped',
  'message_status',
]);

export interface JourneyRunOptions {
  journeys: JourneySet;
  now: number;
  /** The workspace's zone, for users without one. */
  timezone: string;
  /** The user's recent calls (newest first or any order), for waitFor steps whose event already happened. */
  recent?: readonly StoredEvent[];
  /** Profile buckets [from, to) of the workspace's global control group: they enter no journey. */
  globalControl?: { from: number; to: number } | null;
  /** Webhook answers got for this run, or `skip` in a dry run (journeys/webhook.ts). */
  webhooks?: WebhookOutcomes | 'skip';
}

function memoryOf(profile: Profile, journeyId: string): JourneyMemory {
  profile.journeys ??= {};
  return (profile.journeys[journeyId] ??= emptyMemory());
}

function context(
  profile: Profile,
  journey: CompiledJourney,
  options: JourneyRunOptions,
  recent: readonly StoredEvent[],
): WalkContext {
  return {
    profile,
    journey,
    now: options.now,
    timezone: options.timezone,
    facts: (event) =>
      profileContext(profile, options.now, { timezone: options.timezone, event: event ?? null }),
    recent,
    webhooks: options.webhooks,
  };
}

function finish(
  profile: Profile,
  journey: CompiledJourney,
  enrollment: Enrollment,
  end: WalkEnd,
  log: StoredEvent[],
  now: number,
): void {
  if (end.state !== 'ended') return;
  const memory = memoryOf(profile, journey.id);
  memory.active = null;
  memory.lastExitedAt = end.at;
  log.push(
    journeyLog(profile, 'journey_exited', journey.id, enrollment, end.at, now, { reason: end.reason }),
  );
}

/** A journey stopped with `exit`: the user leaves now. True when they did. */
function leaveIfStopped(
  profile: Profile,
  journey: CompiledJourney,
  enrollment: Enrollment,
  options: JourneyRunOptions,
  log: StoredEvent[],
): boolean {
  const run = options.journeys.state(journey.id);
  if (run.state !== 'stopped' || run.mode !== 'exit') return false;
  const at = Math.max(options.now, enrollment.arrivedAt);
  finish(profile, journey, enrollment, { state: 'ended', reason: 'stopped', at }, log, options.now);
  return true;
}

/** The version an enrollment walks on; null when it is no longer published (the user is let go). */
function versionOf(
  options: JourneyRunOptions,
  journeyId: string,
  enrollment: Enrollment,
): CompiledJourney | null {
  return options.journeys.version(journeyId, enrollment.version) ?? null;
}

/** Decides what the user's events mean for their journeys; returns the execution log entries. */
export function journeysOnEvents(
  profile: Profile,
  events: readonly StoredEvent[],
  options: JourneyRunOptions,
): StoredEvent[] {
  const log: StoredEvent[] = [];
  const calls = [...(options.recent ?? []), ...events].filter(
    (e) => e.type !== 'internal' && drivesJourneys(e),
  );
  for (const event of events) {
    if (!drivesJourneys(event) || OWN_EVENTS.has(event.event)) continue;
    for (const [journeyId, memory] of Object.entries(profile.journeys ?? {})) {
      const enrollment = memory.active;
      if (!enrollment) continue;
      const journey = versionOf(options, journeyId, enrollment);
      if (!journey) continue;
      react(profile, journey, enrollment, event, options, calls, log);
    }
    for (const journey of options.journeys.triggeredBy(event))
      enter(profile, journey, event, options, calls, log);
  }
  // A held trigger enters on what happened within its hold (event time), not on what arrived later.
  const earliest = Math.min(...events.filter((e) => !e.late).map((e) => e.timestamp));
  enterHeld(profile, options, calls, log, earliest);
  return log;
}

/**
 * Triggers held for a trailing identify: the user enters once events stamped within the hold made
 * them reachable (`seenAt`: the earliest of those events); at the hold's end (`final`) the trigger
 * is let go either way.
 */
function enterHeld(
  profile: Profile,
  options: JourneyRunOptions,
  calls: readonly StoredEvent[],
  log: StoredEvent[],
  seenAt: number | 'final',
): void {
  const final = seenAt === 'final';
  for (const [journeyId, memory] of Object.entries(profile.journeys ?? {})) {
    const held = memory.awaitingContact;
    if (!held || (final ? held.until > options.now : seenAt > held.until)) continue;
    const journey = options.journeys.triggeredBy(held.trigger).find((j) => j.id === journeyId);
    const transactional = journey?.definition.policy?.transactional ?? false;
    if (!final && journey && !reachableOnAny(profile, journey, transactional)) continue;
    delete memory.awaitingContact;
    if (journey) enter(profile, journey, held.trigger, options, calls, log, false);
    // Never entered: nothing to remember of the journey.
    if (!memory.active && memory.entries === 0 && memory.lastEnteredAt === null && !memory.lastTrigger)
      delete profile.journeys![journeyId];
  }
}

/** An awaited event moves the user on; an exit criterion ends the enrollment. */
function react(
  profile: Profile,
  journey: CompiledJourney,
  enrollment: Enrollment,
  event: StoredEvent,
  options: JourneyRunOptions,
  calls: readonly StoredEvent[],
  log: StoredEvent[],
): void {
  if (event.messageId === enrollment.trigger.messageId || event.timestamp < enrollment.enteredAt) return;
  const ctx = context(profile, journey, options, calls);
  const run = options.journeys.state(journey.id);
  if (leaveIfStopped(profile, journey, enrollment, options, log)) return;
  const compiled = journey.steps.get(enrollment.step);
  // Paused: the user holds; an awaited event is remembered and passes the step on resume.
  if (run.state !== 'paused' && compiled && awaited(compiled, enrollment, event, ctx)) {
    const step = compiled.step;
    rememberAwaited(enrollment, event, true);
    log.push(
      journeyLog(profile, 'journey_step', journey.id, enrollment, event.timestamp, options.now, {
        action: 'event',
        event: event.messageId,
      }),
    );
    const target = step.type === 'waitFor' ? (step.onEvent ?? compiled.following) : null;
    if (target === null) {
      finish(
        profile,
        journey,
        enrollment,
        { state: 'ended', reason: 'completed', at: event.timestamp },
        log,
        options.now,
      );
      return;
    }
    enrollment.step = target;
    enrollment.arrivedAt = Math.max(enrollment.arrivedAt, event.timestamp);
    enrollment.visits += 1;
    enrollment.dueAt = null;
    delete enrollment.deferral;
    log.push(
      journeyLog(profile, 'journey_step', journey.id, enrollment, enrollment.arrivedAt, options.now, {
        action: 'reached',
        type: journey.steps.get(target)!.step.type,
      }),
    );
    finish(profile, journey, enrollment, walk(enrollment, ctx, log), log, options.now);
    if (!memoryOf(profile, journey.id).active) return;
  } else if (
    event.type !== 'internal' &&
    [...journey.steps.values()].some((s) => s.step.type === 'waitFor' && s.step.event === event.event)
  ) {
    // Not awaited where the user is now: a waitFor reached later passes at once on it.
    rememberAwaited(enrollment, event, false);
  }
  const reason = exitReason(journey, event, ctx);
  if (reason !== null)
    finish(
      profile,
      journey,
      enrollment,
      { state: 'ended', reason, at: Math.max(event.timestamp, enrollment.arrivedAt) },
      log,
      options.now,
    );
}

function exitReason(journey: CompiledJourney, event: StoredEvent, ctx: WalkContext): string | null {
  if (event.type === 'internal') {
    const segment = event.properties?.segmentId;
    const move =
      event.event === 'segment_entered' ? 'entered' : event.event === 'segment_exited' ? 'exited' : null;
    if (move && journey.exitSegments.some((s) => s.segment === segment && s.on === move))
      return `segment_${move}:${segment}`;
    return null;
  }
  const hit = journey.exitEvents.find(
    (e) => e.event === event.event && (e.where === null || holds(e.where, ctx.facts(event))),
  );
  return hit ? `event:${event.event}` : null;
}

/** The entry rule (ENTRY_RULE in validate.ts): a journey without a send step has no such condition. */
function reachableOnAny(profile: Profile, journey: CompiledJourney, transactional: boolean): boolean {
  return (
    journey.channels.size === 0 ||
    [...journey.channels].some((c) => unreachable(profile, c, transactional) === null)
  );
}

/** Tries to enrol the user on a trigger event, checking in the order above; walks them if they enter. */
function enter(
  profile: Profile,
  journey: CompiledJourney,
  trigger: StoredEvent,
  options: JourneyRunOptions,
  calls: readonly StoredEvent[],
  log: StoredEvent[],
  /** False for a trigger already held once. */
  mayHold = true,
): void {
  if (options.journeys.state(journey.id).state !== 'running') return;
  const control = options.globalControl;
  const inControl = !!control && profile.bucket >= control.from && profile.bucket < control.to;
  const transactional = journey.definition.policy?.transactional ?? false;
  // Checked before the holdout draw, so the holdout and the treated group are held to the same rule.
  if (!reachableOnAny(profile, journey, transactional)) {
    // Held once, for the identify that often trails the trigger with the address or the consent.
    const memory = memoryOf(profile, journey.id);
    if (mayHold && memory.awaitingContact === undefined && memory.lastTrigger !== trigger.messageId)
      memory.awaitingContact = { trigger, until: trigger.timestamp + CONTACT_GRACE_MS };
    return;
  }
  const ctx = context(profile, journey, options, calls);
  const audience = journey.definition.audience;
  if (audience?.segment && !profile.segments.includes(audience.segment)) return;
  if (journey.audience && !holds(journey.audience, ctx.facts())) return;
  if (journey.triggerWhere && !holds(journey.triggerWhere, ctx.facts(trigger))) return;

  const id = `${journey.id}:${trigger.messageId}`;
  const memory = memoryOf(profile, journey.id);
  if (memory.active?.id === id || memory.lastTrigger === trigger.messageId) return;
  const at = trigger.timestamp;
  if ((memory.entries > 0 || memory.lastEnteredAt !== null) && journey.reentry === 'never') return;
  if (
    memory.lastEnteredAt !== null &&
    journey.minInterval > 0 &&
    at - memory.lastEnteredAt < journey.minInterval
  )
    return;
  if (inControl) {
    holdInControl(profile, journey, memory, trigger, options.now, log);
    return;
  }
  if (memory.active) {
    if (journey.reentry !== 'anytime') return;
    // `anytime`: a new trigger starts the user over (one active enrollment per user and journey).
    const current = memory.active;
    const version = versionOf(options, journey.id, current) ?? journey;
    finish(profile, version, current, { state: 'ended', reason: 'reentered', at }, log, options.now);
  }

  const keys: Record<string, Json> = {};
  for (const path of journey.matchPaths) {
    const value = valueAtPath(trigger, path);
    if (value !== undefined) keys[path] = value;
  }
  const enrollment: Enrollment = {
    id,
    version: journey.version,
    enteredAt: at,
    trigger: { messageId: trigger.messageId, event: trigger.event },
    keys,
    holdout: journeyBucket(journey.id, profile.key) < journey.holdoutBasisPoints,
    step: journey.first,
    arrivedAt: at,
    visits: 1,
    dueAt: null,
  };
  memory.active = enrollment;
  memory.entries += 1;
  memory.lastEnteredAt = at;
  memory.lastTrigger = trigger.messageId;
  log.push(
    journeyLog(profile, 'journey_entered', journey.id, enrollment, at, options.now, {
      trigger: trigger.event,
      cause: trigger.messageId,
      holdout: enrollment.holdout,
    }),
  );
  const recent = calls.filter((e) => e.timestamp >= at && e.messageId !== trigger.messageId);
  finish(profile, journey, enrollment, walk(enrollment, { ...ctx, recent }, log), log, options.now);
  // An exit event that already happened after the trigger (it arrived first) ends the enrollment now.
  if (memory.active !== enrollment) return;
  const exit = [...recent]
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((e) => ({ e, reason: exitReason(journey, e, ctx) }))
    .find(({ reason }) => reason !== null);
  if (exit) {
    const end: WalkEnd = {
      state: 'ended',
      reason: exit.reason as string,
      at: Math.max(exit.e.timestamp, enrollment.arrivedAt),
    };
    finish(profile, journey, enrollment, end, log, options.now);
  }
}

/**
 * A user of the workspace's global control group who would have entered: not enrolled, nothing is
 * sent, but the entry is remembered (entry limits apply as to anyone) and logged as a hold, so their
 * conversions are counted by the same rule as everyone's (the control group of the reports).
 */
function holdInControl(
  profile: Profile,
  journey: CompiledJourney,
  memory: JourneyMemory,
  trigger: StoredEvent,
  now: number,
  log: StoredEvent[],
): void {
  const id = `${journey.id}:${trigger.messageId}`;
  const at = trigger.timestamp;
  memory.lastEnteredAt = at;
  memory.lastExitedAt = at;
  memory.lastTrigger = trigger.messageId;
  const place = { journeyId: journey.id, version: journey.version, enrollmentId: id, step: journey.first };
  log.push(
    logEntry(profile, 'journey_held', place, [id, 'global_control'], at, now, {
      reason: 'global_control',
      trigger: trigger.event,
      cause: trigger.messageId,
    }),
  );
}

/** Timers that fell due: held triggers, waits over, waitFor timeouts, deferred sends. */
export function journeysOverTime(profile: Profile, options: JourneyRunOptions): StoredEvent[] {
  const log: StoredEvent[] = [];
  enterHeld(profile, options, options.recent ?? [], log, 'final');
  for (const [journeyId, memory] of Object.entries(profile.journeys ?? {})) {
    const enrollment = memory.active;
    if (!enrollment) continue;
    const journey = versionOf(options, journeyId, enrollment);
    if (!journey) continue;
    const run = options.journeys.state(journeyId);
    if (leaveIfStopped(profile, journey, enrollment, options, log)) continue;
    if (run.state === 'paused' || enrollment.dueAt === null) continue;
    // A timer held over a pause fires when the journey resumed, not back in the pause.
    if (run.state === 'running' && run.since !== undefined && enrollment.dueAt < run.since)
      enrollment.dueAt = run.since;
    if (enrollment.dueAt > options.now) continue;
    const ctx = context(profile, journey, options, options.recent ?? []);
    finish(profile, journey, enrollment, walk(enrollment, ctx, log), log, options.now);
  }
  return log;
}

/**
 * The earliest pending journey timer of the user (paused journeys' held), or null. Without
 * `webhooks`, enrollments waiting for a webhook call are left out: only the timer's job can make it.
 */
export function nextJourneyDue(profile: Profile, journeys: JourneySet, webhooks = true): number | null {
  let next: number | null = null;
  for (const [journeyId, memory] of Object.entries(profile.journeys ?? {})) {
    if (journeys.state(journeyId).state === 'paused') continue;
    const active = memory.active;
    const waitsForCall =
      !webhooks &&
      active &&
      journeys.version(journeyId, active.version)?.steps.get(active.step)?.step.type === 'webhook';
    for (const due of [waitsForCall ? null : (active?.dueAt ?? null), memory.awaitingContact?.until ?? null])
      if (due !== null && (next === null || due < next)) next = due;
  }
  return next;
}

/**
 * An anonymous visitor who identifies brings their journeys along: enrollments the user does not
 * have continue on the user; where both are in the same journey, the earlier entry stays and the
 * other leaves (reason `merged`), so the user is never in one journey twice.
 */
export function mergeJourneys(into: Profile, absorbed: Profile, now: number): StoredEvent[] {
  const log: StoredEvent[] = [];
  if (absorbed.journeyLogged) into.journeyLogged = (into.journeyLogged ?? 0) + absorbed.journeyLogged;
  if (absorbed.conversions) into.conversions = [...(into.conversions ?? []), ...absorbed.conversions];
  if (absorbed.countedOrders) into.countedOrders = [...(into.countedOrders ?? []), ...absorbed.countedOrders];
  for (const [journeyId, theirs] of Object.entries(absorbed.journeys ?? {})) {
    const ours = memoryOf(into, journeyId);
    const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
    let active = ours.active ?? theirs.active;
    if (ours.active && theirs.active) {
      const [kept, left] =
        ours.active.enteredAt <= theirs.active.enteredAt
          ? [ours.active, theirs.active]
          : [theirs.active, ours.active];
      active = kept;
      const at = Math.max(left.arrivedAt, kept.arrivedAt);
      log.push(journeyLog(into, 'journey_exited', journeyId, left, at, now, { reason: 'merged' }));
    }
    into.journeys![journeyId] = {
      active,
      entries: ours.entries + theirs.entries,
      lastEnteredAt: max(ours.lastEnteredAt, theirs.lastEnteredAt),
      lastExitedAt: max(ours.lastExitedAt, theirs.lastExitedAt),
      ...((ours.lastTrigger ?? theirs.lastTrigger)
        ? { lastTrigger: ours.lastTrigger ?? theirs.lastTrigger }
        : {}),
      // The visitor's trigger held for this very identify.
      ...((ours.awaitingContact ?? theirs.awaitingContact)
        ? { awaitingContact: ours.awaitingContact ?? theirs.awaitingContact }
        : {}),
    };
  }
  return log;
}
