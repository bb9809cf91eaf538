import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { VirtualClock } from '../../engine/clock.ts';
import type { Job } from '../../ports/scheduler.ts';
import { schedulerConformance } from './conformance.ts';

schedulerConformance('in-process', async () => {
  const clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'));
  const scheduler = new InProcessScheduler({ clock, maxAttempts: 3, backoffMs: 10 });
  return { scheduler, advance: (ms) => clock.advance(ms), cleanup: () => scheduler.close() };
});

describe('InProcessScheduler on a virtual clock', () => {
  function setup(start: string, options: { maxAttempts?: number } = {}) {
    const clock = new VirtualClock(Date.parse(start));
    const scheduler = new InProcessScheduler({ clock, backoffMs: 1000, ...options });
    const fired: { id: string; at: string }[] = [];
    scheduler.process(
      'q',
      async (job) => void fired.push({ id: job.id, at: new Date(clock.now()).toISOString() }),
      { concurrency: 1 },
    );
    return { clock, scheduler, fired };
  }

  it('runs a delayed job exactly at its due time', async () => {
    const { clock, scheduler, fired } = setup('2026-01-01T00:00:00Z');
    await scheduler.add('q', 'x', {}, { id: 'later', delay: 90_000 });
    await clock.advance(89_999);
    assert.deepEqual(fired, []);
    await clock.advance(1);
    assert.deepEqual(fired, [{ id: 'later', at: '2026-01-01T00:01:30.000Z' }]);
  });

  it('reads a cron in Asia/Shanghai', async () => {
    const { clock, scheduler, fired } = setup('2026-01-01T00:00:00Z');
    await scheduler.repeat('q', 'morning', { cron: '0 9 * * *', tz: 'Asia/Shanghai' }, 'morning', {});
    await clock.advanceTo(Date.parse('2026-01-03T00:00:00Z'));
    assert.deepEqual(
      fired.map((f) => f.at),
      ['2026-01-01T01:00:00.000Z', '2026-01-02T01:00:00.000Z'],
    );
  });

  it('follows America/Los_Angeles across the start of daylight saving time', async () => {
    const { clock, scheduler, fired } = setup('2026-03-07T00:00:00Z');
    await scheduler.repeat('q', 'morning', { cron: '0 9 * * *', tz: 'America/Los_Angeles' }, 'morning', {});
    await clock.advanceTo(Date.parse('2026-03-10T00:00:00Z'));
    assert.deepEqual(
      fired.map((f) => f.at),
      ['2026-03-07T17:00:00.000Z', '2026-03-08T16:00:00.000Z', '2026-03-09T16:00:00.000Z'],
    );
  });

  it('rejects a bad cron expression and leaves the existing schedule alone', async () => {
    const { clock, scheduler, fired } = setup('2026-01-01T00:00:00Z');
    await scheduler.repeat('q', 'r', { cron: '0 * * * *', tz: 'UTC' }, 'r', {});
    await assert.rejects(scheduler.repeat('q', 'r', { cron: 'not a cron', tz: 'UTC' }, 'r', {}));
    await clock.advance(3_600_000);
    assert.equal(fired.length, 1);
  });

  it('backs off exponentially and keeps a job that failed every attempt', async () => {
    const clock = new VirtualClock(0);
    const failures: string[] = [];
    const scheduler = new InProcessScheduler({
      clock,
      maxAttempts: 4,
      backoffMs: 100,
      onFailed: (queue, job, error) =>
        failures.push(`${queue}/${job.id}/${job.attempt}: ${(error as Error).message}`),
    });
    const runs: number[] = [];
    scheduler.process(
      'q',
      async () => {
        runs.push(clock.now());
        throw new Error('nope');
      },
      { concurrency: 1 },
    );
    await scheduler.add('q', 'x', { a: 1 }, { id: 'bad' });
    await clock.advance(10_000);
    assert.deepEqual(runs, [0, 100, 300, 700]);
    assert.deepEqual(failures, ['q/bad/4: nope']);
    assert.deepEqual(scheduler.failed('q'), [{ id: 'bad', name: 'x', data: { a: 1 }, attempt: 4 }]);
    assert.equal(await scheduler.pending('q'), 0);
  });

  it('hands handlers a copy of the data', async () => {
    const clock = new VirtualClock(0);
    const scheduler = new InProcessScheduler({ clock });
    const data = { list: [1] };
    await scheduler.add('q', 'x', data);
    data.list.push(2);
    const seen: Job<{ list: number[] }>[] = [];
    scheduler.process('q', async (job: Job<{ list: number[] }>) => void seen.push(job), { concurrency: 1 });
    await scheduler.idle();
    assert.deepEqual(seen[0].data, { list: [1] });
  });

  it('runs jobs due at the same time in the order they were added', async () => {
    const { clock, scheduler, fired } = setup('2026-01-01T00:00:00Z');
    await scheduler.add('q', 'x', {}, { id: 'b', delay: 500 });
    await scheduler.add('q', 'x', {}, { id: 'a', delay: 500 });
    await scheduler.add('q', 'x', {}, { id: 'early', delay: 499 });
    await clock.advance(500);
    assert.deepEqual(
      fired.map((f) => f.id),
      ['early', 'b', 'a'],
    );
  });

  it('idle() waits for running jobs and the ones they make ready', async () => {
    const clock = new VirtualClock(0);
    const scheduler = new InProcessScheduler({ clock });
    const done: string[] = [];
    scheduler.process(
      'q',
      async (job) => {
        await sleep(10);
        done.push(job.name);
        if (job.name === 'first') await scheduler.add('q', 'second', {});
      },
      { concurrency: 1 },
    );
    await scheduler.add('q', 'first', {});
    await scheduler.idle();
    assert.deepEqual(done, ['first', 'second']);
  });

  it('refuses work after close', async () => {
    const scheduler = new InProcessScheduler({ clock: new VirtualClock(0) });
    await scheduler.close();
    await assert.rejects(scheduler.add('q', 'x', {}), /closed/);
  });
});
