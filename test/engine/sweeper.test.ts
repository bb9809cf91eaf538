import assert from 'node:assert/strict';
import { DUE_TIMER_DELAY_MS } from '../../engine/commit/commit-loop.ts';
import { after, before, describe, it } from 'node:test';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { checkJobId, PROFILE_CHECK_JOB, PROFILE_CHECKS_QUEUE } from '../../engine/jobs/checks.ts';
import type { ProfileCheck } from '../../workspace/timers.ts';
import { SWEEP_GRACE_MS, SWEEPER_JOB, SWEEPER_QUEUE, sweepOverdue } from '../../engine/jobs/sweeper.ts';
import { createCommit, makeProfile } from '../../dev/profiles.ts';
import { type Engine, journeyEngine, track, waitThenHello } from '../journeys/helpers.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('sweepOverdue', () => {
  it('re-adds exactly the timers overdue by more than the grace, each once, a page at a time', async () => {
    const store = new MemoryStore({ eventRetentionMs: DAY, dedupeHorizonMs: DAY });
    await store.init();
    const now = Date.parse('2026-03-02T02:00:00Z');
    const profiles = [
      makeProfile('u:long-ago', { checkAt: now - DAY }),
      makeProfile('u:at-the-grace', { checkAt: now - SWEEP_GRACE_MS }),
      makeProfile('u:within-grace', { checkAt: now - SWEEP_GRACE_MS + 1 }),
      makeProfile('u:firing-now', { checkAt: now }),
      makeProfile('u:future', { checkAt: now + HOUR }),
      makeProfile('u:no-timer', { checkAt: null }),
      makeProfile('u:never-had-one'),
      // More than a page, many at the same instant (a midnight, a scheduled journey).
      ...Array.from({ length: 1234 }, (_, i) =>
        makeProfile(`u:batch-${i}`, { checkAt: now - 10 * MIN - (i % 3) }),
      ),
    ];
    await store.commit(profiles.map((profile) => createCommit(profile)));

    const calls: ProfileCheck[][] = [];
    const count = await sweepOverdue(store, async (checks) => void calls.push(checks), now);
    const added = calls.flat();
    const expected = profiles
      .filter((p) => typeof p.checkAt === 'number' && p.checkAt <= now - SWEEP_GRACE_MS)
      .map((p) => ({ key: p.key, at: p.checkAt as number }));
    assert.equal(count, expected.length);
    assert.equal(added.length, expected.length, 'each overdue timer once');
    const byKey = (a: ProfileCheck, b: ProfileCheck) => (a.key < b.key ? -1 : 1);
    assert.deepEqual([...added].sort(byKey), [...expected].sort(byKey));
    assert.ok(calls.every((page) => page.length <= 500));
    // Earliest first.
    assert.deepEqual(added[0], { key: 'u:long-ago', at: now - DAY });

    // A grace of its own; nothing due, nothing added.
    const quick: ProfileCheck[] = [];
    await sweepOverdue(store, async (checks) => void quick.push(...checks), now, 0);
    assert.equal(quick.length, expected.length + 2, 'with no grace: also within-grace and firing-now');
    const none: ProfileCheck[][] = [];
    assert.equal(await sweepOverdue(store, async (checks) => void none.push(checks), now - 2 * DAY), 0);
    assert.deepEqual(none, []);
    await store.close();
  });
});

describe('the sweeper in a worker (in-process queue, virtual clock)', () => {
  const T0 = Date.parse('2026-03-02T02:00:00Z');
  let e: Engine;
  const version = async (userId: string) =>
    (await e.store.getProfiles([`u:${userId}`])).get(`u:${userId}`)?.version;
  const checkAt = async (userId: string) =>
    (await e.store.getProfiles([`u:${userId}`])).get(`u:${userId}`)?.checkAt;
  const sweep = async () => {
    await e.scheduler.add(SWEEPER_QUEUE, SWEEPER_JOB, {});
    await e.clock.advance(0);
    // The re-added timers are already due: they run a moment later (DUE_TIMER_DELAY_MS), and the
    // messages their walks decide are handed to the gateway a moment after that.
    await e.clock.advance(DUE_TIMER_DELAY_MS);
    await e.clock.advance(DUE_TIMER_DELAY_MS);
  };

  before(async () => {
    e = await journeyEngine(
      {
        journeys: [waitThenHello()],
      },
      T0 - MIN,
    );
  });
  after(() => e.close());

  it('re-adds a lost timer: the user moves on at the next sweep, once', async () => {
    await e.send([track('lost', 'signup', T0), track('kept', 'signup', T0)]);
    const due = T0 + 2 * HOUR;
    assert.equal(await checkAt('lost'), due);
    // The queue loses one of the two timers.
    assert.equal(
      await e.scheduler.cancel(PROFILE_CHECKS_QUEUE, checkJobId({ key: 'u:lost', at: due })),
      true,
    );
    await e.clock.advanceTo(due + 5 * MIN);
    const sent = async (userId: string) =>
      (await e.log(userId, 'pause')).filter((l) => l.event === 'message_sent').length;
    assert.equal(await sent('kept'), 1);
    assert.equal(await sent('lost'), 0, 'stuck without its timer');

    await sweep();
    assert.equal(await sent('lost'), 1, 'moved on after the sweep');
    assert.equal((await e.log('lost', 'pause')).at(-1)?.event, 'journey_exited');
    assert.ok(((await checkAt('lost')) ?? Infinity) > e.clock.now(), 'its next timer, if any, is ahead');
    // Nothing overdue any more: a second sweep changes nothing.
    const before = await version('lost');
    await sweep();
    assert.equal(await version('lost'), before);
    assert.equal(await sent('lost'), 1);
  });

  it('a stale timer, re-added when it is no longer needed, does nothing', async () => {
    const now = e.clock.now();
    await e.send([track('waiting', 'signup', now)]);
    const due = now + 2 * HOUR;
    assert.equal(await checkAt('waiting'), due);
    const log = await e.log('waiting');
    const versions = { waiting: await version('waiting'), lost: await version('lost') };
    // Old timers of a user still waiting (due long before its wait ends), and of one who finished.
    const stale = [
      { key: 'u:waiting', at: now - HOUR },
      { key: 'u:waiting', at: now },
      { key: 'u:lost', at: T0 + 2 * HOUR },
    ];
    for (const check of stale) {
      await e.scheduler.add(PROFILE_CHECKS_QUEUE, PROFILE_CHECK_JOB, check, { id: checkJobId(check) });
    }
    await e.clock.advance(0);
    assert.deepEqual({ waiting: await version('waiting'), lost: await version('lost') }, versions);
    assert.deepEqual(await e.log('waiting'), log);
    assert.equal(await checkAt('waiting'), due);
    // The real timer still fires when due.
    await e.clock.advanceTo(due + MIN);
    assert.equal((await e.log('waiting', 'pause')).filter((l) => l.event === 'message_sent').length, 1);
  });
});
