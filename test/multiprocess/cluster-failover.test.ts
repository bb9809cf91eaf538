import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import { failOverLocal, startLocalCluster } from '../../dev/redis-cluster.ts';
import { assertExactlyOnce, assertStoredOnce, postAll } from '../helpers/posting.ts';
import { interleavedStream } from '../helpers/stream.ts';

// Always the local cluster (ports 7100-7105): a test that fails a master over is not run on someone
// else's.
const clusterNodes = await startLocalCluster();

describe('production processes on a Redis Cluster', { timeout: 300_000 }, () => {
  it('a master failing over to its replica mid-stream: two workers apply every acknowledged event exactly once', async () => {
    const stream = interleavedStream(250, 20, 11);
    assert.equal(stream.messages.length, 5_000);
    const c = await startCluster(
      2,
      {
        TIDELINE_WORKSPACE: fileURLToPath(new URL('../workspace', import.meta.url)),
        TIDELINE_LOCK_DURATION: '5000',
        TIDELINE_STALLED_INTERVAL: '1000',
        TIDELINE_WORKER_CONCURRENCY: '5',
      },
      { clusterNodes },
    );
    try {
      const posting = postAll(c.url, stream.messages, 50, 2, true);
      await waitFor(
        async () => (await c.store.countProfiles()) >= 50,
        60_000,
        'the workers to make progress',
      );
      await failOverLocal();
      assert.equal(await posting, 5_000);
      await c.drained();
      const profiles = await c.profiles(stream);
      assertExactlyOnce(profiles, stream);
      await assertStoredOnce(c.store, stream);
      for (const w of c.workers) assert.equal(w.child.exitCode, null, `a worker exited:\n${w.output()}`);
    } finally {
      await c.close();
    }
  });
});
