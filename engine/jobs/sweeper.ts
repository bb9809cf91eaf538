import type { DueProfile, Store } from '../../ports/store.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import type { RegisterJob } from './context.ts';

/*
 * Timers are delayed jobs; the store says which ones should exist (each profile's committed `checkAt`,
 * in the due index). A timer job can be lost: the queue's Redis loses its keys (no AOF, a failover, a
 * FLUSHALL), the in-process queue of the embedded mode forgets its delayed jobs on a restart, a job
 * fails its last retry. The sweeper re-adds, from the due index, every timer overdue by more than a
 * grace period, with its deterministic id (`check:<key>:<at>`, so one still waiting, delayed or running
 * is not duplicated) and delay 0. A timer re-added when it is no longer needed finds nothing to do:
 * runProfileChecks re-reads the profile and commits only what changed.
 */

export const SWEEPER_QUEUE = 'sweeper';
export const SWEEPER_JOB = 'sweep';
/** The repeatable schedule's id: one per deployment. */
export const SWEEPER_SCHEDULE = 'sweeper';
/** Default: every minute, read in UTC. */
export const SWEEPER_DEFAULT_CRON = '* * * * *';
/**
 * How overdue a timer must be before the sweeper re-adds it: timers that are merely firing now (or
 * waiting a few seconds in a busy queue) are left alone.
 */
export const SWEEP_GRACE_MS = 30_000;
const PAGE = 500;

/**
 * Re-adds the timer of every profile whose `checkAt` is at or before `now - grace`, a page of the due
 * index at a time. Returns how many it re-added (those still queued are a no-op for the queue).
 */
export async function sweepOverdue(
  store: Store,
  scheduleChecks: ScheduleChecks,
  now: number,
  grace = SWEEP_GRACE_MS,
): Promise<number> {
  const before = now - grace;
  let after: DueProfile | undefined;
  let count = 0;
  for (;;) {
    const page = await store.dueProfiles(before, PAGE, after);
    if (page.length > 0) await scheduleChecks(page.map(({ key, at }) => ({ key, at })));
    count += page.length;
    if (page.length < PAGE) return count;
    after = page[page.length - 1];
  }
}

/** The sweeper's runs (its schedule is set by the worker's owner). */
export const registerSweeperJob: RegisterJob = ({ scheduler, store, logger, now, scheduleChecks }) =>
  scheduler.process(
    SWEEPER_QUEUE,
    async (job) => {
      const count = await sweepOverdue(store, scheduleChecks, now());
      if (count > 0)
        logger.info({ job: job.id, timers: count }, `sweeper re-enqueued ${count} overdue timers`);
    },
    { concurrency: 1 },
  );
