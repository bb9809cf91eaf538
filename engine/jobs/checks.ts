import type { Workspace } from '../../workspace/workspace.ts';
import { commitCounts, runJourneys, runJourneyTimers, updateMembership } from '../../decide/pipeline.ts';
import { lifecycleOverTime } from '../../lifecycle/profile-lifecycle.ts';
import { createHash } from 'node:crypto';
import type { NewJob } from '../../ports/scheduler.ts';
import type { ProfileCommit, Store } from '../../ports/store.ts';
import {
  callWebhooks,
  dueWebhooks,
  type WebhookCaller,
  type WebhookOutcomes,
} from '../../journeys/webhook.ts';
import { deliverSends, recordSends, type SendOutcomes } from '../../journeys/outbox.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import type { Profile } from '../../model/profile.ts';

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

/** A job carrying many users' timers that fell due together (see `checkJobs`). */
export const PROFILE_CHECK_BATCH_JOB = 'checks';

export interface ProfileCheckBatch {
  checks: ProfileCheck[];
}

/**
 * The jobs for a set of timers. With a queue in Redis, timers already due (an ingest batch's
 * hand-overs, a sweep's overdue users) go as one job (`coalesce`): one read, one write and one queue
 * job for all of them instead of one each. Timers in the future keep a job each, with a deterministic
 * id. A timer already due waits DUE_TIMER_DELAY_MS: its job must find the commit that planned it.
 */
export function checkJobs(
  checks: readonly ProfileCheck[],
  now: number,
  queue: { coalesce: boolean; minDelayMs: number },
): NewJob<ProfileCheck | ProfileCheckBatch>[] {
  const delay = (inMs: number) => (inMs <= 0 ? DUE_TIMER_DELAY_MS : Math.max(inMs, queue.minDelayMs));
  const due = queue.coalesce ? checks.filter((c) => c.at <= now) : [];
  const single = due.length > 1 ? checks.filter((c) => c.at > now) : checks;
  const jobs: NewJob<ProfileCheck | ProfileCheckBatch>[] = single.map((check) => ({
    name: PROFILE_CHECK_JOB,
    data: check,
    options: { id: checkJobId(check), delay: delay(check.at - now), timer: true },
  }));
  if (due.length > 1) {
    const digest = createHash('sha1')
      .update(due.map((c) => `${c.key}@${c.at}`).join('\n'))
      .digest('base64url')
      .slice(0, 16);
    const first = Math.min(...due.map((c) => c.at));
    jobs.push({
      name: PROFILE_CHECK_BATCH_JOB,
      data: { checks: [...due] },
      options: { id: `b.${first.toString(36)}.${digest}`, delay: DUE_TIMER_DELAY_MS, timer: true },
    });
  }
  return jobs;
}

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

export interface CheckOptions {
  workspace: Workspace;
  now: () => number;
  scheduleChecks: ScheduleChecks;
  /** Makes the calls of webhook steps that fell due (outside the commit). */
  callWebhook?: WebhookCaller;
  /** Takes the messages in the user's outbox that fell due (outside the commit). */
  gateway?: ChannelGateway;
}

/** What a check did outside the commit: webhook calls and message hand-overs, reused by every attempt. */
interface Calls {
  webhooks?: WebhookOutcomes;
  sends?: SendOutcomes;
}

/**
 * Webhook steps and messages that fell due are called and handed over once, before the commit loop
 * (their answers are reused by every attempt).
 */
async function makeCalls(profile: Profile | undefined, options: CheckOptions): Promise<Calls> {
  if (!profile) return {};
  const [webhooks, sends] = await Promise.all([
    profile.journeys && options.callWebhook
      ? callWebhooks(dueWebhooks(profile, options.workspace.journeys, options.now()), options.callWebhook)
      : undefined,
    profile.outbox && options.gateway ? deliverSends(profile, options.gateway, options.now()) : undefined,
  ]);
  return { ...(webhooks ? { webhooks } : {}), ...(sends ? { sends } : {}) };
}

/**
 * One attempt at a check on the profile as read (changed in place): the commit to make and the next
 * timer, or null when nothing changed.
 */
function decideCheck(
  profile: Profile,
  check: ProfileCheck,
  calls: Calls,
  options: CheckOptions,
): { commit: ProfileCommit; next: ProfileCheck | null } | null {
  const now = options.now();
  const { version, checkAt } = profile;
  const cause = { messageId: `check:${check.at}`, timestamp: check.at };
  const { workspace } = options;
  // The lifecycle first (segments may read it); the stored one was decided at or after its `since`.
  const before = profile.lifecycle?.state;
  const events = lifecycleOverTime(profile, profile.lifecycle?.since ?? 0, now, workspace.lifecycle);
  const candidates =
    profile.lifecycle?.state === before
      ? workspace.timeSegments
      : [...workspace.timeSegments, ...workspace.profileReadingSegments];
  events.push(...updateMembership(profile, [...new Set(candidates)], cause, now, workspace));
  // What the moves above (segments, lifecycle) mean for the journeys, then the journey timers
  // (which hand their own tag/trait consequences to the journeys themselves).
  const moves = [...events];
  events.push(...runJourneyTimers(profile, now, workspace, calls.webhooks));
  events.push(...runJourneys(profile, moves, now, workspace));
  if (calls.sends) events.push(...recordSends(profile, calls.sends, now));
  let next = planCheck(profile, now, workspace);
  // Due again at once (a message to hand over, a webhook to call): a timer with this one's id would
  // be taken for this very job and dropped, so the next one is a moment later.
  if (next && next.at <= check.at) {
    next = { ...next, at: Math.max(now, check.at) + DUE_TIMER_DELAY_MS };
    profile.checkAt = next.at;
  }
  if (events.length === 0 && (profile.checkAt ?? null) === (checkAt ?? null)) return null;
  profile.version = version + 1;
  const counts = commitCounts(profile, events, now, workspace);
  return {
    commit: { key: check.key, expectedVersion: version, profile, events, messageIds: [], counts },
    next,
  };
}

/**
 * A user's timer fired: re-evaluate the segments that change with time alone, store the
 * entries and exits it finds (named after the timer, so a repeated firing stores them once), and set
 * the next timer.
 */
export async function runProfileCheck(
  store: Store,
  check: ProfileCheck,
  options: CheckOptions,
  prepared?: { calls: Calls },
): Promise<void> {
  let current = (await store.getProfiles([check.key])).get(check.key);
  const calls = prepared?.calls ?? (await makeCalls(current, options));
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) current = (await store.getProfiles([check.key])).get(check.key);
    if (!current) return;
    const decided = decideCheck(current, check, calls, options);
    if (!decided) return;
    if (decided.next) await options.scheduleChecks([decided.next]);
    const { conflicts } = await store.commit([decided.commit]);
    if (conflicts.length === 0) return;
  }
  throw new Error(`gave up re-checking ${check.key} after ${MAX_ATTEMPTS} version conflicts`);
}

/**
 * Many users' timers that fell due together (an ingest batch's hand-overs, a sweep): one read, their
 * calls and hand-overs side by side, one write. A user whose commit met another writer is checked
 * again on their own, reusing the answers already had (a message is never handed over twice).
 */
export async function runProfileChecks(
  store: Store,
  checks: readonly ProfileCheck[],
  options: CheckOptions,
): Promise<void> {
  const byKey = new Map(checks.map((c) => [c.key, c]));
  const profiles = await store.getProfiles([...byKey.keys()]);
  const calls = new Map(
    await Promise.all(
      [...byKey.keys()].map(async (key) => [key, await makeCalls(profiles.get(key), options)] as const),
    ),
  );
  const commits: ProfileCommit[] = [];
  const nexts: ProfileCheck[] = [];
  for (const [key, check] of byKey) {
    const profile = profiles.get(key);
    const decided = profile ? decideCheck(profile, check, calls.get(key)!, options) : null;
    if (!decided) continue;
    commits.push(decided.commit);
    if (decided.next) nexts.push(decided.next);
  }
  if (nexts.length > 0) await options.scheduleChecks(nexts);
  const { conflicts } = commits.length > 0 ? await store.commit(commits) : { conflicts: [] };
  for (const key of conflicts) {
    await runProfileCheck(store, byKey.get(key)!, options, { calls: calls.get(key)! });
  }
}
