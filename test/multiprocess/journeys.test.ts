import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StoredEvent } from '../../engine/events.ts';
import { journeyLogOf } from '../../journeys/timeline.ts';
import { startCluster } from '../helpers/cluster.ts';
import { KEYS, waitFor } from '../helpers/engine.ts';
import { postBatch } from '../helpers/processes.ts';

const WORKSPACE = fileURLToPath(new URL('../journeys/workspace', import.meta.url));
const USERS = 300;

/** Each decision with its time (and a timer's due time) in ms after the user's signup: runs compare. */
function relativeTimeline(log: readonly StoredEvent[], signup: number): string[] {
  return log.map((e) => {
    const p = e.properties ?? {};
    const due = typeof p.dueAt === 'string' ? ` due +${Date.parse(p.dueAt) - signup}` : '';
    return `+${e.timestamp - signup} ${e.event} ${p.step}${p.action ? ` ${p.action}` : ''}${due}`;
  });
}

/** Redis store, BullMQ queues, real delays: the two_waits journey (send, 2 s, send, 3 s, send). */
async function run(workers: number, kill: boolean): Promise<Map<string, string[]>> {
  const c = await startCluster(workers, {
    TIDELINE_WORKSPACE: WORKSPACE,
    TIDELINE_LOCK_DURATION: '2000',
    TIDELINE_STALLED_INTERVAL: '1000',
  });
  try {
    const start = Date.now();
    const userIds = Array.from({ length: USERS }, (_, i) => `jw-${i}`);
    // Fixed timestamps: the timeline of each user is the same however the work is spread.
    const messages = userIds.map((userId, i) => ({
      type: 'track',
      userId,
      event: 'signed_up',
      messageId: `signup-${userId}`,
      timestamp: new Date(start + i).toISOString(),
    }));
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
    await waitFor(
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
    return timelines;
  } finally {
    await c.close();
  }
}

describe('journeys in Redis-only production mode, real delays', () => {
  it('two waits run end to end; a SIGKILLed worker loses no enrollment and sends no step twice; two workers = one', async () => {
    const one = await run(1, false);
    assert.deepEqual([...one.values()][0], [
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
    ]);
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
