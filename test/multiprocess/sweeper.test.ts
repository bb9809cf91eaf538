import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROFILE_CHECKS_QUEUE } from '../../engine/jobs/checks.ts';
import { SWEEP_GRACE_MS } from '../../engine/jobs/sweeper.ts';
import { journeyLogOf } from '../../journeys/timeline.ts';
import { startCluster } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import { PROCESS_KEYS as KEYS } from '../../dev/processes.ts';
import { postBatch, removeKeys } from '../../dev/processes.ts';
import { ON_TIME, relativeTimeline, signups, TWO_WAITS_WORKSPACE } from '../journeys/two-waits.ts';

const USERS = 100;

describe('the sweeper in Redis-only production mode', () => {
  it('users whose timers Redis lost still finish the journey: later, with the same decisions, each once', async () => {
    const c = await startCluster(2, {
      TIDELINE_WORKSPACE: TWO_WAITS_WORKSPACE,
      // A sweep every 2 seconds rather than every minute; the grace stays the production one (30 s).
      TIDELINE_SWEEP_INTERVAL: 'PT2S',
    });
    let logged = '';
    for (const w of c.workers) w.child.stdout?.on('data', (d: Buffer) => (logged += d.toString()));
    try {
      const start = Date.now();
      const messages = signups('sw', USERS, start);
      const keys = messages.map((m) => `u:${m.userId}`);
      assert.equal(await postBatch(c.url, KEYS.write, messages), 200);
      // Everyone waits in wait_2s, their first message gone, their timer (due at +2 s) queued...
      await waitFor(
        async () =>
          [...(await c.store.getProfiles(keys)).values()].filter(
            (p) => p.journeys?.two_waits?.active?.step === 'wait_2s' && !p.outbox,
          ).length === USERS,
        30_000,
        'every user waiting in wait_2s, their first message handed over',
      );
      // ... when Redis loses the timer queue: every key BullMQ keeps for it (jobs, delayed set, meta...).
      const lostAt = Date.now();
      let deleted = 0;
      for (const keys of c.queueKeys(PROFILE_CHECKS_QUEUE)) deleted += await removeKeys(keys);
      assert.ok(deleted >= USERS, `deleted ${deleted} keys of the timer queue`);
      console.log(`timer queue lost ${lostAt - start} ms after the signups (${deleted} keys)`);

      const finished = async () => {
        const done: string[] = [];
        for (const key of keys) {
          const log = journeyLogOf(await c.store.recentEvents(key, 100));
          if (log.at(-1)?.event === 'journey_exited') done.push(key);
        }
        return done;
      };
      // Well past the end of the journey (+5 s) and still within the sweeper's grace: nobody has moved on.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + 8_000 - Date.now())));
      if (lostAt - start < 1_500) assert.deepEqual(await finished(), [], 'stuck without their timers');
      const due = await c.store.dueProfiles(Infinity, 1000);
      assert.equal(due.length, USERS, 'the due index still knows every timer');

      // The sweeper re-adds them once they are overdue by the grace: everyone finishes within about a minute.
      await waitFor(async () => (await finished()).length === USERS, 60_000, 'every user to finish');
      const tookMs = Date.now() - lostAt;
      console.log(`every user finished ${tookMs} ms after the loss (grace ${SWEEP_GRACE_MS} ms)`);
      assert.ok(tookMs >= SWEEP_GRACE_MS - 5_000, `finished after ${tookMs} ms: before the grace?`);
      // Late, but the same decisions as on time: each is stamped with the time it was due.
      for (const [i, key] of keys.entries()) {
        const log = journeyLogOf(await c.store.recentEvents(key, 100));
        assert.deepEqual(relativeTimeline(log, start + i), ON_TIME, key);
      }
      assert.match(logged, /sweeper re-enqueued \d+ overdue timers/);
    } finally {
      await c.close();
    }
  });
});
