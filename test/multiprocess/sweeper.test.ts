import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { StoredEvent } from '../../engine/events.ts';
import { PROFILE_CHECKS_QUEUE } from '../../engine/profiles/checks.ts';
import { SWEEP_GRACE_MS } from '../../engine/profiles/sweeper.ts';
import { journeyLogOf } from '../../journeys/timeline.ts';
import { startCluster } from '../helpers/cluster.ts';
import { KEYS, waitFor } from '../helpers/engine.ts';
import { postBatch, REDIS_URL } from '../helpers/processes.ts';

const WORKSPACE = fileURLToPath(new URL('../journeys/workspace', import.meta.url));
const USERS = 100;

/** The two_waits journey of a user whose timers all fire on time (test/multiprocess/journeys.test.ts). */
const ON_TIME = [
  '+0 journey_entered first',
  '+0 message_sent first send',
  '+0 journey_step wait_2s reached',
  '+0 journey_step wait_2s timer due +2000',
  '+2000 journey_step second reached',
  '+2000 message_sent second send',
  '+2000 journey_step wait_3s reached',
  '+2000 journey_step wait_3s timer due +5000',
  '+5000 journey_step third reached',
  '+5000 message_sent third send',
  '+5000 journey_exited third',
];

/** Each decision with its time (and a timer's due time) in ms after the user's signup. */
function relativeTimeline(log: readonly StoredEvent[], signup: number): string[] {
  return log.map((e) => {
    const p = e.properties ?? {};
    const due = typeof p.dueAt === 'string' ? ` due +${Date.parse(p.dueAt) - signup}` : '';
    return `+${e.timestamp - signup} ${e.event} ${p.step}${p.action ? ` ${p.action}` : ''}${due}`;
  });
}

/** Deletes every key matching `pattern` (SCAN, then DEL); returns how many. */
async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) deleted += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

describe('the sweeper in Redis-only production mode', () => {
  it('users whose timers Redis lost still finish the journey: later, with the same decisions, each once', async () => {
    const c = await startCluster(2, {
      TIDELINE_WORKSPACE: WORKSPACE,
      // A sweep every 2 seconds rather than every minute; the grace stays the production one (30 s).
      TIDELINE_SWEEP_INTERVAL: 'PT2S',
    });
    let logged = '';
    for (const w of c.workers) w.child.stdout?.on('data', (d: Buffer) => (logged += d.toString()));
    const redis = new Redis(REDIS_URL);
    try {
      const start = Date.now();
      const userIds = Array.from({ length: USERS }, (_, i) => `sw-${i}`);
      const keys = userIds.map((u) => `u:${u}`);
      const messages = userIds.map((userId, i) => ({
        type: 'track',
        userId,
        event: 'signed_up',
        messageId: `signup-${userId}`,
        timestamp: new Date(start + i).toISOString(),
      }));
      assert.equal(await postBatch(c.url, KEYS.write, messages), 200);
      // Everyone waits in wait_2s, their timer (due at +2 s) queued...
      await waitFor(
        async () =>
          [...(await c.store.getProfiles(keys)).values()].filter(
            (p) => p.journeys?.two_waits?.active?.step === 'wait_2s',
          ).length === USERS,
        30_000,
        'every user waiting in wait_2s',
      );
      // ... when Redis loses the timer queue: every key BullMQ keeps for it (jobs, delayed set, meta...).
      const queueKeys = `${c.prefix}:q:${PROFILE_CHECKS_QUEUE}*`;
      const lostAt = Date.now();
      const deleted = await deleteKeys(redis, queueKeys);
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
      await redis.quit();
      await c.close();
    }
  });
});
