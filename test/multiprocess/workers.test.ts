import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { BullMQScheduler } from '../../engine/adapters/schedulers/bullmq.ts';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import { INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import type { Profile } from '../../engine/profiles/profile.ts';
import { KEYS, waitFor } from '../helpers/engine.ts';
import {
  postBatch,
  REDIS_URL,
  removeKeys,
  spawnTideline,
  type TidelineProcess,
  uniquePrefix,
} from '../helpers/processes.ts';
import { interleavedStream, type TestStream } from '../helpers/stream.ts';

const DAY = 86_400_000;

/** Production processes (API + workers, Redis store, BullMQ) on a fresh key prefix, plus a view into their Redis. */
async function cluster(workers: number, extraEnv: Record<string, string> = {}) {
  const prefix = uniquePrefix('mp');
  const env = {
    TIDELINE_STORE: 'redis',
    TIDELINE_QUEUE: 'bullmq',
    TIDELINE_PREFIX: prefix,
    TIDELINE_WORKER_CONCURRENCY: '20',
    // Segments over aggregates (with a where filter) and traits: their state must not depend on order either.
    TIDELINE_WORKSPACE: fileURLToPath(new URL('../workspace', import.meta.url)),
    ...extraEnv,
  };
  const api = spawnTideline('api', env);
  const workerProcesses: TidelineProcess[] = [];
  const addWorker = () => {
    const w = spawnTideline('worker', env);
    workerProcesses.push(w);
    return w;
  };
  for (let i = 0; i < workers; i++) addWorker();
  const redis = new Redis(REDIS_URL);
  const store = new RedisStore({
    redis,
    prefix: `${prefix}:`,
    eventRetentionMs: 365 * DAY,
    dedupeHorizonMs: 30 * DAY,
  });
  await store.init();
  const queue = new BullMQScheduler({ connection: { url: REDIS_URL }, prefix: `${prefix}:q` });
  const url = await api.url;
  return {
    url,
    store,
    workers: workerProcesses,
    addWorker,
    drained: (timeoutMs = 120_000) =>
      waitFor(async () => (await queue.pending(INGEST_QUEUE)) === 0, timeoutMs, 'the ingest queue to drain'),
    async profiles(stream: TestStream): Promise<Map<string, Omit<Profile, 'version' | 'checkAt'>>> {
      const keys = [...stream.userIds.map((u) => `u:${u}`), ...stream.anonymousIds.map((a) => `a:${a}`)];
      const found = await store.getProfiles(keys);
      // Compared: the user's state. Not compared: the commit counter, and when the user's re-check timer is
      // set (an earlier timer may stay set after the next check moved later; it fires and does nothing).
      return new Map([...found].map(([k, { version: _version, checkAt: _checkAt, ...rest }]) => [k, rest]));
    },
    async close() {
      await Promise.all([api.stop(), ...workerProcesses.map((w) => w.stop())]);
      await queue.close();
      await redis.quit();
      await removeKeys(prefix);
    },
  };
}

async function postAll(
  url: string,
  messages: Record<string, unknown>[],
  size = 100,
  parallel = 4,
): Promise<number> {
  let acknowledged = 0;
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < messages.length; i += size) batches.push(messages.slice(i, i + size));
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        const status = await postBatch(url, KEYS.write, batch);
        assert.equal(status, 200);
        acknowledged += batch.length;
      }
    }),
  );
  return acknowledged;
}

function assertExactlyOnce(
  profiles: Map<string, Omit<Profile, 'version' | 'checkAt'>>,
  stream: TestStream,
): void {
  for (const [userId, count] of stream.perUser) {
    const p = profiles.get(`u:${userId}`);
    assert.ok(p, `profile of ${userId}`);
    assert.equal(p.eventCount, count, `${userId} has every message applied exactly once`);
  }
  for (const anonymousId of stream.anonymousIds)
    assert.ok(!profiles.has(`a:${anonymousId}`), `${anonymousId} was merged into its user`);
}

describe('production processes on Redis and BullMQ', { timeout: 300_000 }, () => {
  it('two workers with concurrency 20 give exactly the profiles one worker gives (10,000 events, 500 users)', async () => {
    const stream = interleavedStream(500, 20);
    assert.equal(stream.messages.length, 10_000);
    const results: Map<string, Omit<Profile, 'version' | 'checkAt'>>[] = [];
    for (const workers of [1, 2]) {
      const c = await cluster(workers);
      try {
        assert.equal(await postAll(c.url, stream.messages), 10_000);
        await c.drained();
        const profiles = await c.profiles(stream);
        assertExactlyOnce(profiles, stream);
        results.push(profiles);
      } finally {
        await c.close();
      }
    }
    assert.equal(results[0].size, 500);
    assert.deepEqual(results[1], results[0]);
    // The segments did something: both runs agree on a non-trivial membership.
    const members = [...results[0].values()].filter((p) => p.segments.length > 0).length;
    assert.ok(members > 50 && members < 500, `${members} users in some segment`);
  });

  it('a worker killed with SIGKILL mid-stream loses and duplicates nothing that was acknowledged', async () => {
    const stream = interleavedStream(250, 20, 99);
    assert.equal(stream.messages.length, 5_000);
    // Short locks so the killed worker's jobs are picked up again within seconds.
    const c = await cluster(1, {
      TIDELINE_LOCK_DURATION: '2000',
      TIDELINE_STALLED_INTERVAL: '1000',
      TIDELINE_WORKER_CONCURRENCY: '5',
    });
    try {
      const posting = postAll(c.url, stream.messages, 50, 2);
      // Kill once the worker is visibly part-way through.
      await waitFor(
        async () => (await c.store.countProfiles()) >= 50,
        60_000,
        'the first worker to make progress',
      );
      await c.workers[0].kill();
      const acknowledged = await posting;
      assert.equal(acknowledged, 5_000);
      c.addWorker();
      await c.drained();
      const profiles = await c.profiles(stream);
      assertExactlyOnce(profiles, stream);
      for (const userId of stream.userIds.slice(0, 20)) {
        const events = (await c.store.recentEvents(`u:${userId}`, 1000)).filter((e) => e.type !== 'internal');
        assert.equal(new Set(events.map((e) => e.messageId)).size, events.length, 'no event stored twice');
        assert.equal(events.length, stream.perUser.get(userId));
      }
    } finally {
      await c.close();
    }
  });
});
