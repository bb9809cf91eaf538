/**
 * Walks one enrollment forward from the step it is at, through every step that takes no time,
 * until it waits (a wait, a waitFor, a deferred send) or leaves the journey. Pure apart from the
 * profile it is given: tags, traits and the enrollment change in place; every decision is returned
 * as an execution log entry for the user's history.
 */
import { DateTime } from 'luxon';
import { drivesJourneys, type StoredEvent } from '../model/events.ts';
import type { Json } from '../model/json.ts';
import { setTrait } from '../profiles/apply.ts';
import type { Profile } from '../model/profile.ts';
import { durationMs } from '../rules/durations.ts';
import { pathResolver } from '../rules/jsonpath.ts';
import { safeZone } from '../rules/time.ts';
import { quietEnd } from '../policy/send-time.ts';
import type { FactContext } from '../rules/types.ts';
import { holds } from '../segments/membership.ts';
import type { CompiledJourney, CompiledStep } from './compile.ts';
import {
  journeyBucket,
  journeyLog,
  type JourneyLogName,
  rememberAwaited,
  usedAwaited,
} from './enrollment.ts';
import type { SendStep, WaitStep } from './journey.ts';
import { retryable, webhookBackoff, webhookKey, type WebhookOutcomes } from './webhook.ts';
import type { SendChannel } from '../model/channels.ts';
import type { Enrollment } from '../model/journeys.ts';

export interface WalkContext {
  profile: Profile;
  journey: CompiledJourney;
  /** Processing time. */
  now: number;
  /** The zone for users without one. */
  timezone: string;
  /** Facts about the user, optionally with an event, for conditions. */
  facts(event?: StoredEvent | null): FactContext;
  /** The user's own calls, for a waitFor whose event already happened after the user reached it. */
  recent: readonly StoredEvent[];
  /** Webhook answers got for this walk (by webhookKey); `skip`: a dry run makes no calls. */
  webhooks?: WebhookOutcomes | 'skip';
}

export type WalkEnd = { state: 'waiting' } | { state: 'ended'; reason: string; at: number };

/** How long a send that cannot reach the user waits for a trailing identify (address, consent). */
export const CONTACT_GRACE_MS = 5_000;

/** Whether a log entry records a step that set tags or traits (segments may move the user). */
export function changedProfile(entry: StoredEvent): boolean {
  const action = entry.properties?.action;
  if (entry.event !== 'journey_step' || typeof action !== 'string') return false;
  if (action === 'update' || action.startsWith('tag_added:') || action.startsWith('tag_removed:'))
    return true;
  const traits = entry.properties?.traits;
  return action === 'webhook' && Array.isArray(traits) && traits.length > 0;
}

/** Steps taken in one walk at most (validation rejects loops without a wait; this is a backstop). */
const MAX_STEPS = 200;

/** Moves the enrollment to `target` (null: the journey ends) and logs the arrival. */
function moveTo(e: Enrollment, target: string | null, at: number): boolean {
  if (target === null) return false;
  e.step = target;
  e.arrivedAt = at;
  e.visits += 1;
  e.dueAt = null;
  delete e.deferral;
  delete e.webhookAttempts;
  return true;
}

export function walk(enrollment: Enrollment, ctx: WalkContext, log: StoredEvent[]): WalkEnd {
  const { journey, now } = ctx;
  const entry = (name: JourneyLogName, details: Record<string, Json>, at: number) =>
    log.push(journeyLog(ctx.profile, name, journey.id, enrollment, at, now, details));
  for (let taken = 0; taken < MAX_STEPS; taken++) {
    const compiled = journey.steps.get(enrollment.step);
    if (!compiled) return { state: 'ended', reason: `step '${enrollment.step}' no longer exists`, at: now };
    const { step } = compiled;
    const at = enrollment.arrivedAt;
    const go = (target: string | null | undefined, atTime = at): WalkEnd | null => {
      const next = target === undefined ? compiled.following : target;
      if (!moveTo(enrollment, next, atTime)) return { state: 'ended', reason: 'completed', at: atTime };
      entry(
        'journey_step',
        { action: 'reached', type: journey.steps.get(next as string)!.step.type },
        atTime,
      );
      return null;
    };
    let end: WalkEnd | null = null;
    switch (step.type) {
      case 'wait': {
        if (enrollment.dueAt === null) {
          enrollment.dueAt = waitDue(step, at, ctx.profile.timezone ?? ctx.timezone);
          entry('journey_step', { action: 'timer', dueAt: iso(enrollment.dueAt) }, at);
        }
        if (enrollment.dueAt > now) return { state: 'waiting' };
        end = go(step.next, enrollment.dueAt);
        break;
      }
      case 'waitFor': {
        if (enrollment.dueAt === null) {
          enrollment.dueAt = at + durationMs(step.timeout);
          entry('journey_step', { action: 'timer', dueAt: iso(enrollment.dueAt) }, at);
        }
        // Passed when the awaited event has happened since entry (the earliest one no waitFor used
        // before): in the calls at hand, or seen while the user was elsewhere or the journey paused.
        const happened = [...ctx.recent, ...(enrollment.seen ?? []).map((s) => s.event)]
          .filter((e) => awaited(compiled, enrollment, e, ctx))
          .sort((a, b) => a.timestamp - b.timestamp)[0];
        if (happened) {
          rememberAwaited(enrollment, happened, true);
          const passedAt = Math.max(at, happened.timestamp);
          entry('journey_step', { action: 'event', event: happened.messageId }, passedAt);
          end = go(step.onEvent, passedAt);
          break;
        }
        if (enrollment.dueAt > now) return { state: 'waiting' };
        entry('journey_step', { action: 'timeout' }, enrollment.dueAt);
        end = go(step.onTimeout, enrollment.dueAt);
        break;
      }
      case 'branch': {
        const facts = ctx.facts();
        const taken = compiled.branches.findIndex((p) => holds(p, facts));
        const target = taken >= 0 ? step.branches[taken].next : step.else;
        entry('journey_step', { action: 'branch', taken: taken >= 0 ? taken : 'else' }, at);
        end = go(target);
        break;
      }
      case 'split': {
        const path = splitPath(step.paths, journeyBucket(journey.id, ctx.profile.key, step.id));
        entry('journey_step', { action: 'split', path: step.paths[path].name ?? path }, at);
        end = go(step.paths[path].next);
        break;
      }
      case 'send': {
        if (enrollment.dueAt !== null && enrollment.dueAt > now) return { state: 'waiting' };
        const reachedAt = enrollment.dueAt ?? at;
        // An address or consent often comes with an identify that trails the event that brought the
        // user here: a send that cannot reach the user waits a moment for it, once.
        if (enrollment.deferral === undefined && !reachable(step, ctx)) {
          enrollment.deferral = 'contact';
          enrollment.dueAt = reachedAt + CONTACT_GRACE_MS;
          entry(
            'journey_step',
            { action: 'deferred', dueAt: iso(enrollment.dueAt), reason: 'awaiting_contact' },
            reachedAt,
          );
          if (enrollment.dueAt > now) return { state: 'waiting' };
        }
        if (enrollment.deferral !== 'quiet') {
          const decidedAt = enrollment.dueAt ?? at;
          const quietUntilAt = quietUntil(ctx, decidedAt);
          if (quietUntilAt !== null) {
            enrollment.deferral = 'quiet';
            enrollment.dueAt = quietUntilAt;
            entry(
              'journey_step',
              { action: 'deferred', dueAt: iso(quietUntilAt), reason: 'quiet_hours' },
              decidedAt,
            );
            if (quietUntilAt > now) return { state: 'waiting' };
          }
        }
        const sentAt = enrollment.dueAt ?? at;
        send(step, compiled, enrollment, ctx, sentAt, entry);
        end = go(step.next, sentAt);
        break;
      }
      case 'tag': {
        for (const tag of step.add ?? []) {
          if (ctx.profile.tags.includes(tag)) continue;
          ctx.profile.tags = [...ctx.profile.tags, tag].sort();
          entry('journey_step', { action: `tag_added:${tag}`, tag }, at);
        }
        for (const tag of step.remove ?? []) {
          if (!ctx.profile.tags.includes(tag)) continue;
          ctx.profile.tags = ctx.profile.tags.filter((t) => t !== tag);
          entry('journey_step', { action: `tag_removed:${tag}`, tag }, at);
        }
        end = go(step.next);
        break;
      }
      case 'update': {
        for (const [name, value] of Object.entries(step.traits)) setTrait(ctx.profile, name, value, at);
        entry('journey_step', { action: 'update', traits: Object.keys(step.traits) }, at);
        end = go(step.next);
        break;
      }
      case 'webhook': {
        if (ctx.webhooks === 'skip') {
          entry('journey_step', { action: 'skipped', reason: 'dry run: no webhook calls' }, at);
          end = go(step.next);
          break;
        }
        const outcome = ctx.webhooks?.get(webhookKey(enrollment));
        if (!outcome) {
          // The user's timer makes the call (outside this commit) and walks on with the answer.
          enrollment.dueAt ??= at;
          return { state: 'waiting' };
        }
        const attempt = (enrollment.webhookAttempts ?? 0) + 1;
        enrollment.webhookAttempts = attempt;
        const calledAt = Math.max(enrollment.dueAt ?? at, at);
        const details = {
          status: outcome.status,
          attempt,
          ...(outcome.error ? { error: outcome.error } : {}),
        };
        if (!outcome.ok && retryable(outcome) && attempt <= (step.retries ?? 0)) {
          enrollment.dueAt = now + webhookBackoff(attempt);
          entry(
            'journey_step',
            { action: `webhook_retry:${attempt}`, ...details, dueAt: iso(enrollment.dueAt) },
            calledAt,
          );
          return { state: 'waiting' };
        }
        const traits: string[] = [];
        if (outcome.ok) {
          for (const [name, path] of Object.entries(step.setTraits ?? {})) {
            const value = pathResolver(path)(outcome.body);
            if (value === undefined) continue;
            setTrait(ctx.profile, name, value as Json, calledAt);
            traits.push(name);
          }
        }
        entry(
          'journey_step',
          { action: outcome.ok ? 'webhook' : 'webhook_failed', ...details, traits },
          calledAt,
        );
        delete enrollment.webhookAttempts;
        end = go(step.next, calledAt);
        break;
      }
      case 'exit':
        return { state: 'ended', reason: step.reason ?? 'exit step', at };
    }
    if (end) return end;
  }
  return { state: 'ended', reason: `more than ${MAX_STEPS} steps without a wait`, at: now };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Whether `event` is what the enrollment's waitFor step awaits. */
export function awaited(
  compiled: CompiledStep,
  enrollment: Enrollment,
  event: StoredEvent,
  ctx: Pick<WalkContext, 'facts'>,
): boolean {
  const step = compiled.step;
  if (
    step.type !== 'waitFor' ||
    event.event !== step.event ||
    event.type === 'internal' ||
    !drivesJourneys(event)
  )
    return false;
  // Since entry, not only since the user reached the step; an event passes one waitFor.
  if (event.timestamp < enrollment.enteredAt || usedAwaited(enrollment, event)) return false;
  if (enrollment.dueAt !== null && event.timestamp > enrollment.dueAt) return false;
  if (step.match) {
    const expected = enrollment.keys[step.match];
    const actual = matchValue(event, step.match);
    if (expected === undefined || JSON.stringify(actual) !== JSON.stringify(expected)) return false;
  }
  return compiled.where === null || holds(compiled.where, ctx.facts(event));
}

function matchValue(event: StoredEvent, path: string): unknown {
  let value: unknown = event;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** When a wait step started at `at` is over, in the user's zone for times of day. */
export function waitDue(step: WaitStep, at: number, timezone: string): number {
  if (step.duration !== undefined) return at + durationMs(step.duration);
  const { time, date } = step.until;
  const [hour, minute] = time.split(':').map(Number);
  const zone = safeZone(timezone);
  if (date !== undefined) {
    const due = DateTime.fromISO(`${date}T${time}`, { zone }).toMillis();
    return Math.max(due, at);
  }
  let due = DateTime.fromMillis(at, { zone }).set({ hour, minute, second: 0, millisecond: 0 });
  if (due.toMillis() <= at) due = due.plus({ days: 1 });
  return due.toMillis();
}

/** The path a user takes at a split: deterministic per user, journey and step, weighted. */
function splitPath(paths: readonly { weight: number }[], bucket: number): number {
  const total = paths.reduce((sum, p) => sum + p.weight, 0);
  let point = (bucket / 10_000) * total;
  for (let i = 0; i < paths.length; i++) {
    point -= paths[i].weight;
    if (point < 0) return i;
  }
  return paths.length - 1;
}

/** When the quiet hours around `at` end, if the journey defers sends in them; null: send now. */
function quietUntil(ctx: WalkContext, at: number): number | null {
  const quiet = ctx.journey.definition.policy?.quietHours;
  if (!quiet || quiet.action !== 'defer') return null;
  return quietEnd(quiet, at, ctx.profile.timezone ?? ctx.timezone);
}

/** Whether the send step's channel or its fallback can reach the user now. */
function reachable(step: SendStep, ctx: WalkContext): boolean {
  const transactional = ctx.journey.definition.policy?.transactional ?? false;
  return (
    unreachable(ctx.profile, step.channel, transactional) === null ||
    (step.fallback !== undefined && unreachable(ctx.profile, step.fallback.channel, transactional) === null)
  );
}

/** Why the user cannot get a message on `channel`, or null when they can. */
export function unreachable(profile: Profile, channel: SendChannel, transactional: boolean): string | null {
  const consent =
    channel === 'sandbox' ? undefined : profile.consent[channel === 'miniprogram' ? 'wechat' : channel];
  if (consent?.granted === false) return 'no_consent';
  switch (channel) {
    case 'sms':
      if (typeof profile.traits.phone !== 'string' || profile.traits.phone.trim() === '') return 'no_address';
      // Promotional SMS (China) and email need consent given beforehand.
      return transactional || consent?.granted ? null : 'no_consent';
    case 'email':
      if (typeof profile.traits.email !== 'string' || !profile.traits.email.includes('@'))
        return 'no_address';
      return transactional || consent?.granted ? null : 'no_consent';
    case 'push':
      return profile.pushTokens.length > 0 ? null : 'no_address';
    case 'wechat':
    case 'miniprogram':
      return Object.keys(profile.wechat).length > 0 ? null : 'no_address';
    case 'sandbox':
      return null;
  }
}

function send(
  step: SendStep,
  compiled: CompiledStep,
  enrollment: Enrollment,
  ctx: WalkContext,
  at: number,
  entry: (name: 'message_sent' | 'message_skipped', details: Record<string, Json>, at: number) => void,
): void {
  const transactional = ctx.journey.definition.policy?.transactional ?? false;
  const facts = ctx.facts();
  const variant = compiled.variants.findIndex((p) => holds(p, facts));
  let channel: SendChannel = step.channel;
  let template = variant >= 0 ? step.variants![variant].template : step.template;
  let why = unreachable(ctx.profile, channel, transactional);
  if (
    why !== null &&
    step.fallback &&
    unreachable(ctx.profile, step.fallback.channel, transactional) === null
  ) {
    channel = step.fallback.channel;
    template = step.fallback.template;
    why = null;
  }
  const quiet = ctx.journey.definition.policy?.quietHours;
  if (why === null && quiet?.action === 'drop' && quietEnd(quiet, at, ctx.profile.timezone ?? ctx.timezone))
    why = 'quiet_hours';
  const messageId = `${enrollment.id}:${step.id}:${enrollment.visits}`;
  const details = { action: 'send', messageId, channel, template, ...(variant >= 0 ? { variant } : {}) };
  if (why !== null) {
    entry('message_skipped', { ...details, reason: why }, at);
    return;
  }
  entry('message_sent', { ...details, status: enrollment.holdout ? 'shadow' : 'queued' }, at);
  if (enrollment.holdout) return;
  // Handed to the channel gateway by the user's timer job, after this commit (journeys/outbox.ts).
  (ctx.profile.outbox ??= []).push({
    messageId,
    journeyId: ctx.journey.id,
    enrollmentId: enrollment.id,
    version: enrollment.version,
    step: step.id,
    channel,
    template,
    ...(variant >= 0 ? { variant } : {}),
    trigger: { messageId: enrollment.trigger.messageId, at: enrollment.enteredAt },
    ...(transactional ? { transactional } : {}),
    ...(quiet ? { quietHours: quiet } : {}),
    requestedAt: at,
    attempts: 0,
    dueAt: at,
  });
}
