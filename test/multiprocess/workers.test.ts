import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import type { Profile } from '../../model/profile.ts';
import { assertExactlyOnce, assertStoredOnce, postAll } from '../helpers/posting.ts';
import { interleavedStream } from '../helpers/stream.ts';

/** The cluster of this suite: its workspace has segments over aggregates (with a where filter) and traits. */
const cluster = (workers: number, extraEnv: Record<string, string> = {}) =>
  startCluster(workers, {
    TIDELINE_WORKSPACE: fileURLToPath(new URL('../workspace', import.meta.url)),
    ...extraEnv,
  });

describe('production processes on Redis and BullMQ', { timeout: 300_000 }, () => {
  it('two workers with concurrency 20 give exactly the profiles one worker gives (10,000 events, 500 users)', async () => {
    const stream = interleavedStream(500, 20);
    assert.equal(stream.messages.length, 10_000);
    const results: Map<string, Omit<Profile, 'version' | 'checkAt' | 'decidedAt'>>[] = [];
    for (const workers of [1, 2]) {
      const c = await cluster(workers);
      try {
        assert.equal(await postAll(c.url, stream.messages), 10_000);
        await c.drained();
        const profiles = await c.profiles(stream);
        await assertExactlyOnce(profiles, stream, c.store);
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
      await assertExactlyOnce(profiles, stream, c.store);
      await assertStoredOnce(c.store, stream);
    } finally {
      await c.close();
    }
  });
});
