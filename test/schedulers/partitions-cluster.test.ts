import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { redisPrefixes } from '../../cli/start/backends.ts';
import { waitFor } from '../../dev/engine.ts';
import { masters } from '../../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../../engine/adapters/redis-slots.ts';
import { BullMQScheduler } from '../../engine/adapters/schedulers/bullmq.ts';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import { INGEST_JOB, INGEST_QUEUE, IngestBuffer, ingestParts } from '../../engine/ingest/ingest-queue.ts';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { PROFILE_CHECKS_QUEUE } from '../../engine/jobs/checks.ts';
import { QueuePartitions } from '../../engine/queue-partitions.ts';
import { startWorker } from '../../engine/worker.ts';
import { silentLogger } from '../../ports/logger.ts';
import { onCluster } from '../helpers/cluster.ts';
import { sendsTo } from '../helpers/sends.ts';

// The partitioned queues on the Redis Cluster: where their keys lie, and who consumes them.
const { clusterNodes, redis, runPrefix } = await onCluster();
const DAY = 86_400_000;

/** The master (host:port) that serves each slot, from CLUSTER SLOTS. */
async function slotMasters(): Promise<(slot: number) => string> {
  const ranges = await (redis as Cluster).cluster('SLOTS');
  return (slot) => {
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    assert.ok(range, `slot ${slot} is served`);
    return `${range[2][0]}:${range[2][1]}`;
  };
}

describe('queue partitions on a Redis Cluster', { timeout: 120_000 }, () => {
  it("the partitions' queues lie on every master, an equal share each", async () => {
    const partitions = new QueuePartitions(32);
    const base = `${runPrefix}-spread`;
    const prefix = redisPrefixes({
      prefix: base,
      redisClusterNodes: clusterNodes,
      queuePartitions: partitions,
    }).queues;
    const scheduler = new BullMQScheduler({ connection: { clusterNodes }, prefix });
    try {
      // A parked timer in each partition: its keys stay until the test removes them.
      for (const queue of partitions.names(PROFILE_CHECKS_QUEUE))
        await scheduler.add(queue, 'check', { key: 'u:x', at: 0 }, { id: 'parked', delay: DAY, timer: true });
      const masterOf = await slotMasters();
      const nodes = masters(redis);
      const found = new Map<string, number>();
      for (const queue of partitions.names(PROFILE_CHECKS_QUEUE)) {
        const key = `${prefix(queue)}:${queue}:delayed`;
        const holders: string[] = [];
        // Asked directly, a master that does not serve the key's slot answers MOVED.
        for (const node of nodes)
          if ((await node.exists(key).catch(() => 0)) === 1)
            holders.push(`${node.options.host}:${node.options.port}`);
        assert.equal(holders.length, 1, `${queue}'s delayed set lies on one master`);
        assert.equal(holders[0], masterOf(await redis.cluster('KEYSLOT', key)));
        found.set(holders[0], (found.get(holders[0]) ?? 0) + 1);
      }
      assert.equal(found.size, nodes.length, `partitions on every master: ${JSON.stringify([...found])}`);
      // The local cluster's masters hold equal slot ranges: 32 partitions over 3 masters go 11, 11, 10.
      const equal = 32 / nodes.length;
      for (const [node, count] of found)
        assert.ok(Math.abs(count - equal) <= 0.15 * equal, `${node} holds ${count} of 32 partitions`);
    } finally {
      await scheduler.close();
    }
  });

  it('a worker given a subset of the partitions consumes only those; another worker takes the rest', async () => {
    const base = `${runPrefix}-subset`;
    const partitions = new QueuePartitions(4);
    const prefix = redisPrefixes({
      prefix: base,
      redisClusterNodes: clusterNodes,
      queuePartitions: partitions,
    }).queues;
    const store = new RedisStore({
      redis,
      prefix: `${base}:`,
      buckets: CLUSTER_BUCKETS,
      eventRetentionMs: 30 * DAY,
      dedupeHorizonMs: 30 * DAY,
    });
    await store.init();
    const api = new BullMQScheduler({ connection: { clusterNodes }, prefix });
    const odd = new BullMQScheduler({ connection: { clusterNodes }, prefix });
    const even = new BullMQScheduler({ connection: { clusterNodes }, prefix });
    const worker = (scheduler: BullMQScheduler, consumed: number[]) =>
      startWorker(
        scheduler,
        store,
        { lateGraceMs: DAY, concurrency: 4, partitions: new QueuePartitions(4, consumed), ...sendsTo() },
        silentLogger,
      );
    try {
      const now = Date.now();
      const calls = Array.from({ length: 60 }, (_, u) => ({
        type: 'identify',
        userId: `user-${u}`,
        anonymousId: `anon-${u}`,
        traits: { plan: 'pro' },
        timestamp: new Date(now).toISOString(),
      }));
      const messages = parseBatch({ batch: calls }, now);
      const parts = ingestParts(messages, partitions);
      assert.equal(parts.size, 4, 'the users fall in every partition');
      const keysOf = (consumed: number[]) =>
        consumed.flatMap((p) => (parts.get(p) ?? []).map((m) => `u:${m.userId}`));
      await new IngestBuffer(api, undefined, undefined, partitions).accept(messages);

      worker(odd, [1, 3]);
      // Applied, and the jobs finished (a job's commit lands a moment before it is marked done).
      await waitFor(
        async () =>
          (await store.getProfiles(keysOf([1, 3]))).size === keysOf([1, 3]).length &&
          (await api.pending(partitions.name(INGEST_QUEUE, 1))) === 0 &&
          (await api.pending(partitions.name(INGEST_QUEUE, 3))) === 0,
        60_000,
        'the users of partitions 1 and 3 to be applied',
      );
      assert.equal(await api.pending(partitions.name(INGEST_QUEUE, 0)), 1, "partition 0's job waits");
      assert.equal(await api.pending(partitions.name(INGEST_QUEUE, 2)), 1, "partition 2's job waits");
      assert.equal(
        (await store.getProfiles(keysOf([0, 2]))).size,
        0,
        'no user of partitions 0 and 2 applied',
      );

      worker(even, [0, 2]);
      await waitFor(
        async () => (await partitions.pending(api, INGEST_QUEUE)) === 0,
        60_000,
        'every partition drained',
      );
      const all = await store.getProfiles(messages.map((m) => `u:${m.userId}`));
      assert.equal(all.size, 60);
      for (const profile of all.values()) assert.equal(profile.traits.plan, 'pro');
      // A job added straight to the queue's own name is partition 0's, consumed as before.
      await api.add(INGEST_QUEUE, INGEST_JOB, {
        messages: parseBatch(
          { batch: [{ type: 'identify', userId: 'late', timestamp: new Date(now).toISOString() }] },
          now,
        ),
      });
      await waitFor(
        async () => (await store.getProfiles(['u:late'])).size === 1,
        60_000,
        'the late user applied',
      );
    } finally {
      await Promise.all([odd.close(), even.close()]);
      await api.close();
    }
  });
});
