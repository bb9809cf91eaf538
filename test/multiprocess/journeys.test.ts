import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { journeyLogOf } from '../../journeys/timeline.ts';
import { startCluster } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import { PROCESS_KEYS as KEYS } from '../../dev/processes.ts';
import { postBatch } from '../../dev/processes.ts';
import { ON_TIME, relativeTimeline, signups, TWO_WAITS_WORKSPACE } from '../journeys/two-waits.ts';

const USERS = 300;

/** Redis store, BullMQ queues, real delays: the two_waits journey (send, 2 s, send, 3 s, send). */
async function run(workers: number, kill: boolean): Promise<Map<string, string[]>> {
  const c = await startCluster(workers, {
    TIDELINE_WORKSPACE: TWO_WAITS_WORKSPACE,
    TIDELINE_LOCK_DURATION: '2000',
    TIDELINE_STALLED_INTERVAL: '1000',
  });
  try {
    const start = Date.now();
    // Fixed timestamps: the timeline of each user is the same however the work is spread.
    const messages = signups('jw', USERS, start);
    const userIds = messages.map((m) => m.userId);
    for (let i = 0; i < messages.length; i += 100)
      assert.equal(await postBatch(c.url, KEYS.write, messages.slice(i, i + 100)), 200);
    if (kill) {
      // Everyone is now waiting in wait_2s or about to: kill a worker mid-flight, start a new one.
      await waitFor(
        async () => {
          const found = await c.store.getProfiles(userIds.map((u) => `u:${u}`));
          return (
            [...found.values()].filter((p) => p.journeys?.two_waits?.active?.step === 'wait_2s').length >
            USERS / 2
          );
        },
        30_000,
        'users waiting in wait_2s',
      );
      await c.workers[0].kill();
      c.addWorker();
    }
    const timelines = new Map<string, string[]>();
    const finished = waitFor(
      async () => {
        for (const userId of userIds) {
          if (timelines.has(userId)) continue;
          const log = journeyLogOf(await c.store.recentEvents(`u:${userId}`, 100));
          const signup = Date.parse(messages[userIds.indexOf(userId)].timestamp);
          if (log.at(-1)?.event === 'journey_exited') timelines.set(userId, relativeTimeline(log, signup));
        }
        return timelines.size === USERS;
      },
      60_000,
      'every user to finish the journey',
    );
    await finished.catch(async (error: Error) => {
      // Who is stuck, and where: their step, outbox and timer.
      const stuck = userIds.filter((u) => !timelines.has(u)).slice(0, 5);
      const profiles = await c.store.getProfiles(stuck.map((u) => `u:${u}`));
      const where = [...profiles.values()].map((p) =>
        JSON.stringify({
          key: p.key,
          active: p.journeys?.two_waits?.active,
          outbox: p.outbox,
          checkAt: p.checkAt,
          now: Date.now(),
        }),
      );
      throw new Error(`${error.message}: ${USERS - timelines.size} left, e.g.\n${where.join('\n')}`);
    });
    return timelines;
  } finally {
    await c.close();
  }
}

describe('journeys in Redis-only production mode, real delays', () => {
  it('two waits run end to end; a SIGKILLed worker loses no enrollment and sends no step twice; two workers = one', async () => {
    const one = await run(1, false);
    assert.deepEqual([...one.values()][0], ON_TIME);
    const killed = await run(2, true);
    const two = await run(2, false);
    for (const [userId, timeline] of one) {
      assert.deepEqual(killed.get(userId), timeline, `${userId}: the same decisions after a SIGKILL`);
      assert.deepEqual(two.get(userId), timeline, `${userId}: the same decisions with two workers`);
      assert.equal(
        timeline.filter((l) => l.includes('message_sent')).length,
        3,
        `${userId}: three sends, once each`,
      );
    }
  });
});
