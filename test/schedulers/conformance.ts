import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Scheduler } from '../../ports/scheduler.ts';

export interface SchedulerHarness {
  scheduler: Scheduler;
  /** Lets `ms` of the scheduler's time pass: moves a virtual clock, or really sleeps. */
  advance(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

const STEP_MS = 20;

/**
 * The behaviour every Scheduler adapter shares. `make` gives a fresh, empty scheduler for each test,
 * built with `maxAttempts: 3` and a backoff of at most 20 ms.
 */
export function schedulerConformance(name: string, make: () => Promise<SchedulerHarness>): void {
  describe(`Scheduler conformance: ${name}`, () => {
    let h: SchedulerHarness;
    let s: Scheduler;

    beforeEach(async () => {
      h = await make();
      s = h.scheduler;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    /** Advances in small steps until `done` holds; fails after `limitMs`. */
    async function until(
      what: string,
      done: () => boolean | Promise<boolean>,
      limitMs = 5000,
    ): Promise<void> {
      for (let waited = 0; !(await done()); waited += STEP_MS) {
        if (waited >= limitMs) assert.fail(`timed out waiting for ${what}`);
        await h.advance(STEP_MS);
      }
    }

    const drained = () => until('the queue to drain', async () => (await s.pending('q')) === 0);

    function record<T>(): { jobs: Job<T>[]; handler: (job: Job<T>) => Promise<void> } {
      const jobs: Job<T>[] = [];
      return { jobs, handler: async (job) => void jobs.push(job) };
    }

    it('runs an immediate job with its name and data', async () => {
      const { jobs, handler } = record<{ user: string }>();
      s.process('q', handler, { concurrency: 1 });
      const id = await s.add('q', 'welcome', { user: 'u1' });
      await until('the job', () => jobs.length === 1);
      const { progress: _progress, ...job } = jobs[0];
      assert.deepEqual(job, { id, name: 'welcome', data: { user: 'u1' }, attempt: 1 });
    });

    it("shows a job's progress while it runs and, with keep, its outcome after", async () => {
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      s.process(
        'q',
        async (job) => {
          await job.progress({ scanned: 5, total: 10 });
          await gate;
          await job.progress({ scanned: 10, total: 10 });
        },
        { concurrency: 2 },
      );
      assert.equal(await s.status('q', 'nothing'), null);
      await s.add('q', 'scan', {}, { id: 'scan:1', keep: true });
      await s.add('q', 'scan', {}, { id: 'scan:2' });
      await until('both to report', async () => (await s.status('q', 'scan:2'))?.progress !== null);
      assert.deepEqual(await s.status('q', 'scan:1'), {
        id: 'scan:1',
        state: 'active',
        progress: { scanned: 5, total: 10 },
        attempt: 1,
      });
      release();
      await drained();
      assert.deepEqual(await s.status('q', 'scan:1'), {
        id: 'scan:1',
        state: 'completed',
        progress: { scanned: 10, total: 10 },
        attempt: 1,
      });
      assert.equal(await s.status('q', 'scan:2'), null, 'finished without keep: forgotten');
      // A kept job's id can be used again; the new job replaces the old outcome.
      await s.add('q', 'scan', {}, { id: 'scan:1', keep: true, delay: 60_000 });
      assert.equal((await s.status('q', 'scan:1'))?.state, 'delayed');
      assert.equal((await s.status('q', 'scan:1'))?.progress, null);
    });

    it('runs a timer job once: a failed timer is not retried (the sweeper re-adds timers)', async () => {
      let runs = 0;
      s.process(
        'q',
        async () => {
          runs++;
          throw new Error('boom');
        },
        { concurrency: 1 },
      );
      await s.add('q', 'timer', {}, { id: 't:1', timer: true });
      await until('the timer to run', () => runs === 1);
      await h.advance(200);
      await drained();
      assert.equal(runs, 1);
    });

    it('runs a delayed job after its delay, not before', async () => {
      const { jobs, handler } = record();
      s.process('q', handler, { concurrency: 1 });
      await s.add('q', 'later', {}, { delay: 400 });
      await h.advance(200);
      assert.equal(jobs.length, 0);
      await until('the delayed job', () => jobs.length === 1);
    });

    it('ignores a duplicate id while the job is pending, and takes it again once done', async () => {
      const { jobs, handler } = record<{ n: number }>();
      assert.equal(await s.add('q', 'once', { n: 1 }, { id: 'same' }), 'same');
      assert.equal(await s.add('q', 'once', { n: 2 }, { id: 'same' }), 'same');
      assert.equal(await s.pending('q'), 1);
      s.process('q', handler, { concurrency: 1 });
      await until('the job', () => jobs.length === 1);
      await drained();
      await h.advance(100);
      assert.deepEqual(
        jobs.map((job) => job.data),
        [{ n: 1 }],
      );
      await s.add('q', 'once', { n: 3 }, { id: 'same' });
      await until('the second job', () => jobs.length === 2);
      assert.deepEqual(jobs[1].data, { n: 3 });
    });

    it('accepts any string as an id and hands the handler the original', async () => {
      const ids = ['user:42/step:3', 'repeat:x:1', '用户-七:🙂', '42', '%3A', 'a%b', '#hash', ' '];
      const { jobs, handler } = record();
      for (const id of ids) assert.equal(await s.add('q', 'odd', {}, { id }), id);
      s.process('q', handler, { concurrency: 4 });
      await until('every job', () => jobs.length === ids.length);
      assert.deepEqual(jobs.map((job) => job.id).sort(), [...ids].sort());
    });

    it('cancels a waiting or delayed job, but not an unknown or running one', async () => {
      const { jobs, handler } = record();
      await s.add('q', 'cancelled', {}, { id: 'c:1', delay: 200 });
      await s.add('q', 'kept', {}, { id: 'c:2', delay: 250 });
      await s.add('q', 'cancelled', {}, { id: 'c:3' });
      assert.equal(await s.cancel('q', 'c:1'), true);
      assert.equal(await s.cancel('q', 'c:3'), true);
      assert.equal(await s.cancel('q', 'c:1'), false);
      assert.equal(await s.cancel('q', 'never-added'), false);
      s.process('q', handler, { concurrency: 1 });
      await until('the kept job', () => jobs.length === 1);
      await h.advance(100);
      assert.deepEqual(
        jobs.map((job) => job.id),
        ['c:2'],
      );
    });

    it('does not cancel a running job', async () => {
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started = false;
      s.process(
        'q',
        async () => {
          started = true;
          await gate;
        },
        { concurrency: 1 },
      );
      await s.add('q', 'busy', {}, { id: 'running' });
      await until('the job to start', () => started);
      assert.equal(await s.cancel('q', 'running'), false);
      release();
      await drained();
    });

    it('never runs more jobs at once than the concurrency', async () => {
      let running = 0;
      let most = 0;
      let done = 0;
      await s.addBulk(
        'q',
        Array.from({ length: 6 }, (_, i) => ({ name: 'slow', data: { i } })),
      );
      s.process(
        'q',
        async () => {
          most = Math.max(most, ++running);
          await sleep(50);
          running--;
          done++;
        },
        { concurrency: 2 },
      );
      await until('all jobs', () => done === 6);
      assert.equal(most, 2);
    });

    it('retries a failing job with backoff, counting attempts', async () => {
      const attempts: number[] = [];
      s.process(
        'q',
        async (job) => {
          attempts.push(job.attempt);
          if (job.attempt < 3) throw new Error(`flaky ${job.attempt}`);
        },
        { concurrency: 1 },
      );
      await s.add('q', 'flaky', {}, { id: 'flaky' });
      await until('the third attempt', () => attempts.length === 3);
      await drained();
      await h.advance(100);
      assert.deepEqual(attempts, [1, 2, 3]);
    });

    it('keeps a job that failed every attempt out of the way of a new one with its id', async () => {
      const attempts: number[] = [];
      s.process(
        'q',
        async (job: Job<{ ok: boolean }>) => {
          attempts.push(job.attempt);
          if (!job.data.ok) throw new Error('broken');
        },
        { concurrency: 1 },
      );
      await s.add('q', 'doomed', { ok: false }, { id: 'doomed' });
      await until('three attempts', () => attempts.length === 3);
      await drained();
      await s.add('q', 'doomed', { ok: true }, { id: 'doomed' });
      await until('the new job', () => attempts.length === 4);
      assert.deepEqual(attempts, [1, 2, 3, 1]);
    });

    it('adds jobs in bulk', async () => {
      const { jobs, handler } = record<{ i: number }>();
      const ids = await s.addBulk('q', [
        { name: 'a', data: { i: 1 } },
        { name: 'b', data: { i: 2 }, options: { id: 'bulk:b' } },
        { name: 'c', data: { i: 3 }, options: { delay: 100 } },
      ]);
      assert.equal(ids.length, 3);
      assert.equal(ids[1], 'bulk:b');
      assert.equal(new Set(ids).size, 3);
      s.process('q', handler, { concurrency: 3 });
      await until('all three', () => jobs.length === 3);
      assert.deepEqual(jobs.map((job) => job.id).sort(), [...ids].sort());
      assert.deepEqual(jobs.map((job) => `${job.name}${job.data.i}`).sort(), ['a1', 'b2', 'c3']);
    });

    it('fires a repeat schedule until it is removed', async () => {
      const { jobs, handler } = record<{ v: number }>();
      const everySecond = { cron: '* * * * * *', tz: 'UTC' };
      await s.repeat('q', 'tick', everySecond, 'tick', { v: 1 });
      await s.repeat('q', 'tick', everySecond, 'tick', { v: 2 }); // replaces the first
      assert.equal(await s.pending('q'), 1);
      s.process('q', handler, { concurrency: 1 });
      await until('two firings', () => jobs.length >= 2, 4000);
      for (const job of jobs) {
        assert.equal(job.name, 'tick');
        assert.deepEqual(job.data, { v: 2 });
        assert.match(job.id, /^repeat:tick:\d+$/);
      }
      assert.equal(await s.unrepeat('q', 'tick'), true);
      assert.equal(await s.unrepeat('q', 'tick'), false);
      const fired = jobs.length;
      await h.advance(1500);
      // a firing already on its way when the schedule went may still run; nothing after it
      assert.ok(jobs.length <= fired + 1, `${jobs.length - fired} firings after unrepeat`);
      await drained();
    });

    it('counts waiting, delayed and running jobs as pending', async () => {
      assert.equal(await s.pending('q'), 0);
      await s.add('q', 'a', {});
      await s.add('q', 'b', {}, { id: 'b' });
      await s.add('q', 'c', {}, { delay: 150 });
      assert.equal(await s.pending('q'), 3);
      await s.cancel('q', 'b');
      assert.equal(await s.pending('q'), 2);
      assert.equal(await s.pending('other'), 0);
      const { jobs, handler } = record();
      s.process('q', handler, { concurrency: 1 });
      await until('both jobs', () => jobs.length === 2);
      await drained();
    });

    it('waits for a running job when closing', async () => {
      let started = false;
      let finished = false;
      s.process(
        'q',
        async () => {
          started = true;
          await sleep(150);
          finished = true;
        },
        { concurrency: 1 },
      );
      await s.add('q', 'long', {});
      await until('the job to start', () => started);
      await s.close();
      assert.equal(finished, true);
    });
  });
}
