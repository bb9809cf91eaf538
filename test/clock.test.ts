import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemClock, VirtualClock } from '../engine/clock.ts';

describe('VirtualClock', () => {
  it('stands still until advanced', async () => {
    const clock = new VirtualClock(1_000);
    let fired = false;
    clock.setTimer(() => {
      fired = true;
    }, 0);
    await sleep(5);
    assert.equal(clock.now(), 1_000);
    assert.equal(fired, false);
    await clock.advance(0);
    assert.equal(fired, true);
  });

  it('fires timers in due order, ties in creation order, at their due time', async () => {
    const clock = new VirtualClock(0);
    const log: string[] = [];
    const at = (name: string) => () => log.push(`${name}@${clock.now()}`);
    clock.setTimer(at('c'), 300);
    clock.setTimer(at('a1'), 100);
    clock.setTimer(at('b'), 200);
    clock.setTimer(at('a2'), 100);
    clock.setTimer(at('late'), 1_000);
    await clock.advanceTo(500);
    assert.deepEqual(log, ['a1@100', 'a2@100', 'b@200', 'c@300']);
    assert.equal(clock.now(), 500);
    assert.equal(clock.nextDue(), 1_000);
  });

  it('fires timers set by timers within the same advance', async () => {
    const clock = new VirtualClock(0);
    const log: number[] = [];
    const tick = () => {
      log.push(clock.now());
      if (log.length < 5) clock.setTimer(tick, 100);
    };
    clock.setTimer(tick, 100);
    await clock.advance(350);
    assert.deepEqual(log, [100, 200, 300]);
    await clock.advance(1_000);
    assert.deepEqual(log, [100, 200, 300, 400, 500]);
  });

  it('does not fire cleared timers', async () => {
    const clock = new VirtualClock(0);
    const log: string[] = [];
    const first = clock.setTimer(() => log.push('first'), 10);
    clock.setTimer(() => log.push('second'), 20);
    clock.clearTimer(first);
    await clock.advance(100);
    assert.deepEqual(log, ['second']);
    assert.equal(clock.nextDue(), undefined);
  });

  it('lets the work a timer starts settle before the next timer fires', async () => {
    const clock = new VirtualClock(0);
    const log: string[] = [];
    clock.setTimer(() => {
      clock.track(
        (async () => {
          await sleep(20);
          log.push(`tracked done@${clock.now()}`);
        })(),
      );
      void Promise.resolve().then(() => log.push('microtask'));
    }, 10);
    clock.setTimer(() => log.push(`second@${clock.now()}`), 20);
    await clock.advance(30);
    assert.deepEqual(log, ['microtask', 'tracked done@10', 'second@20']);
  });
});

describe('SystemClock', () => {
  it('reads the wall clock and runs and clears timers', async () => {
    const clock = new SystemClock();
    assert.ok(Math.abs(clock.now() - Date.now()) < 50);
    const log: string[] = [];
    clock.setTimer(() => log.push('ran'), 10);
    const cleared = clock.setTimer(() => log.push('cleared'), 10);
    clock.clearTimer(cleared);
    await sleep(40);
    assert.deepEqual(log, ['ran']);
  });

  it('does not fire a delay beyond 2^31 ms at once', async () => {
    const clock = new SystemClock();
    let fired = false;
    const handle = clock.setTimer(() => {
      fired = true;
    }, 30 * 86_400_000);
    await sleep(20);
    assert.equal(fired, false);
    clock.clearTimer(handle);
  });
});
