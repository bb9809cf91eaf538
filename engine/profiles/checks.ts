import type { Workspace } from '../../segments/workspace.ts';
import { runJourneys, runJourneyTimers, updateMembership } from '../../segments/update.ts';
import { lifecycleOverTime } from '../lifecycle/profile-lifecycle.ts';
import type { Store } from '../ports/store.ts';
import { callWebhooks, dueWebhooks, type WebhookCaller } from '../../journeys/webhook.ts';
import { deliverSends, recordSends } from '../../journeys/outbox.ts';
import type { ChannelGateway } from '../ports/channel-gateway.ts';
import type { Profile } from './profile.ts';

export const PROFILE_CHECKS_QUEUE = 'profile-checks';
export const PROFILE_CHECK_JOB = 'check';

/** A user's re-check timer: tiny, with a deterministic id; the state it acts on is re-read when it fires. */
export interface ProfileCheck {
  key: string;
  at: number;
}

export type ScheduleChecks = (checks: ProfileCheck[]) => Promise<void>;

/** Short (a parked job's id is repeated in several of its Redis entries): `c.<at base 36>.<key>`. */
export const checkJobId = (check: ProfileCheck): string => `c.${check.at.toString(36)}.${check.key}`;

/**
 * Decides whether this profile needs a new timer: only when nothing is set, the set one has fired, or
 * an earlier check is now due. A later one is not moved: the earlier timer fires, finds nothing to do
 * and sets the next. Updates `profile.checkAt`; the caller adds the timer before it commits, so a
 * commit never records a timer that does not exist (a timer without a commit is harmless).
 */
export function planCheck(profile: Profile, now: number, workspace: Workspace): ProfileCheck | null {
  const next = workspace.nextCheckAt(profile, now);
  const current = profile.checkAt ?? null;
  if (current !== null && current <= now) profile.checkAt = null;
  if (next === null) return null;
  if (current !== null && current > now && current <= next) return null;
  profile.checkAt = next;
  return { key: profile.key, at: next };
}

const MAX_ATTEMPTS = 50;

/**
 * Timers are queued before the commit that plans them (a commit never records a timer that does not
 * exist); one already due waits this long, so that its job finds that commit landed (with a Redis
 * queue, no timer fires sooner than this after it was queued).
 */
export const DUE_TIMER_DELAY_MS = 250;

/**
 * A user's timer fired: re-evaluate the segments that change with time alone, store the
 * entries and exits it finds (named after the timer, so a repeated firing stores them once), and set
 * the next timer.
 */
export async function runProfileCheck(
  store: Store,
  check: ProfileCheck,
  options: {
    workspace: Workspace;
    now: () => number;
    scheduleChecks: ScheduleChecks;
    /** Makes the calls of webhook steps that fell due (outside the commit). */
    callWebhook?: WebhookCaller;
    /** Takes the messages in the user's outbox that fell due (outside the commit). */
    gateway?: ChannelGateway;
  },
): Promise<void> {
  let current = (await store.getProfiles([check.key])).get(check.key);
  // Webhook steps and messages that fell due are called and handed over once, before the commit
  // loop (their answers are reused by every attempt).
  const webhooks =
    current?.journeys && options.callWebhook
      ? await callWebhooks(
          dueWebhooks(current, options.workspace.journeys, options.now()),
          options.callWebhook,
        )
      : undefined;
  const sends =
    current?.outbox && options.gateway
      ? await deliverSends(current, options.gateway, options.now())
      : undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) current = (await store.getProfiles([check.key])).get(check.key);
    if (!current) return;
    const now = options.now();
    // A fresh copy per read (the store's contract): decided on in place, what it was is kept here.
    const profile = current;
    const { version, checkAt } = current;
    const cause = { messageId: `check:${check.at}`, timestamp: check.at };
    const { workspace } = options;
    // The lifecycle first (segments may read it); the stored one was decided at or after its `since`.
    const before = profile.lifecycle?.state;
    const events = lifecycleOverTime(profile, current.lifecycle?.since ?? 0, now, workspace.lifecycle);
    const candidates =
      profile.lifecycle?.state === before
        ? workspace.timeSegments
        : [...workspace.timeSegments, ...workspace.profileReadingSegments];
    events.push(...updateMembership(profile, [...new Set(candidates)], cause, now, workspace));
    // What the moves above (segments, lifecycle) mean for the journeys, then the journey timers
    // (which hand their own tag/trait consequences to the journeys themselves).
    const moves = [...events];
    events.push(...runJourneyTimers(profile, now, workspace, webhooks));
    events.push(...runJourneys(profile, moves, now, workspace));
    if (sends) events.push(...recordSends(profile, sends, now));
    let next = planCheck(profile, now, workspace);
    // Due again at once (a message to hand over, a webhook to call): a timer with this one's id would
    // be taken for this very job and dropped, so the next one is a moment later.
    if (next && next.at <= check.at) {
      next = { ...next, at: Math.max(now, check.at) + DUE_TIMER_DELAY_MS };
      profile.checkAt = next.at;
    }
    if (events.length === 0 && (profile.checkAt ?? null) === (checkAt ?? null)) return;
    if (next) await options.scheduleChecks([next]);
    profile.version = version + 1;
    const { conflicts } = await store.commit([
      { key: check.key, expectedVersion: version, profile, events, messageIds: [] },
    ]);
    if (conflicts.length === 0) return;
  }
  throw new Error(`gave up re-checking ${check.key} after ${MAX_ATTEMPTS} version conflicts`);
}
