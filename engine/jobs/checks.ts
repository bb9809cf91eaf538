import type { Workspace } from '../../workspace/workspace.ts';
import type { ProfileCheck, ScheduleChecks } from '../../workspace/timers.ts';
import { type CheckCalls, decideCheck } from '../../decide/check.ts';
import { commitDecisions, DUE_TIMER_DELAY_MS } from '../commit/commit-loop.ts';
import { createHash } from 'node:crypto';
import type { NewJob } from '../../ports/scheduler.ts';
import type { Store } from '../../ports/store.ts';
import { callWebhooks, dueWebhooks, type WebhookCaller } from '../../journeys/webhook.ts';
import { deliverSends } from '../../journeys/outbox.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import type { Profile } from '../../model/profile.ts';
import type { RegisterJob } from './context.ts';

export const PROFILE_CHECKS_QUEUE = 'profile-checks';
export const PROFILE_CHECK_JOB = 'check';

/**
 * `c.<at base 36>.<digest of the key>`: short (a parked job's id is repeated in several of its Redis
 * entries, and in the queue's event stream, which outlives the job), and naming no user.
 */
export const checkJobId = (check: ProfileCheck): string =>
  `c.${check.at.toString(36)}.${createHash('sha256').update(check.key).digest('base64url').slice(0, 16)}`;

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

export interface CheckOptions {
  workspace: Workspace;
  now: () => number;
  lateGraceMs: number;
  scheduleChecks: ScheduleChecks;
  /** Makes the calls of webhook steps that fell due (outside the commit). */
  callWebhook?: WebhookCaller;
  /** Takes the messages in the user's outbox that fell due (outside the commit). */
  gateway?: ChannelGateway;
}

/**
 * Webhook steps and messages that fell due are called and handed over once, before the commit loop
 * (their answers are reused by every attempt, so a message is never handed over twice).
 */
async function makeCalls(profile: Profile | undefined, options: CheckOptions): Promise<CheckCalls> {
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
 * Users' timers that fell due (one, or many together: an ingest batch's hand-overs, a sweep): one
 * read, their calls and hand-overs side by side, then one decision each through the commit loop.
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
  await commitDecisions(
    store,
    [...byKey.values()],
    {
      decide: (check, read, now) => {
        const profile = read.get(check.key);
        return profile
          ? decideCheck(profile, check.at, calls.get(check.key) ?? {}, { workspace: options.workspace, now })
          : null;
      },
    },
    {
      workspace: options.workspace,
      now: options.now,
      lateGraceMs: options.lateGraceMs,
      scheduleChecks: options.scheduleChecks,
      firstRead: profiles,
    },
  );
}

/** Users' timers, one or many to a job. */
export const registerChecksJob: RegisterJob = (context) => {
  for (const queue of context.partitions.consumedNames(PROFILE_CHECKS_QUEUE))
    context.scheduler.process<ProfileCheck | ProfileCheckBatch>(
      queue,
      (job) => {
        const options: CheckOptions = {
          workspace: context.workspace(),
          now: context.now,
          lateGraceMs: context.lateGraceMs,
          scheduleChecks: context.scheduleChecks,
          callWebhook: context.callWebhook,
          gateway: context.gateway,
        };
        const checks =
          job.name === PROFILE_CHECK_BATCH_JOB
            ? (job.data as ProfileCheckBatch).checks
            : [job.data as ProfileCheck];
        return runProfileChecks(context.store, checks, options);
      },
      { concurrency: context.partitions.perPartition(context.checkConcurrency) },
    );
};
