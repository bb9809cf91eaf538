import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../cli/config.ts';
import { queueTag, keySlot } from '../../engine/adapters/redis-slots.ts';
import { IngestBuffer, ingestParts, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { partitionOfQueue, QueuePartitions } from '../../engine/queue-partitions.ts';
import type { InboundMessage } from '../../model/events.ts';
import type { NewJob, Scheduler } from '../../ports/scheduler.ts';

const T = Date.parse('2026-12-01T00:00:00Z');

function batch(): InboundMessage[] {
  const calls: object[] = [];
  for (let u = 0; u < 40; u++) {
    calls.push({
      type: 'track',
      event: 'viewed',
      anonymousId: `anon-${u}`,
      timestamp: new Date(T + u).toISOString(),
    });
    calls.push({
      type: 'identify',
      userId: `user-${u}`,
      anonymousId: `anon-${u}`,
      timestamp: new Date(T + u + 1).toISOString(),
    });
    calls.push({
      type: 'track',
      event: 'bought',
      userId: `user-${u}`,
      timestamp: new Date(T + u + 2).toISOString(),
    });
  }
  calls.push({
    type: 'alias',
    userId: 'user-1',
    previousId: 'old-1',
    timestamp: new Date(T + 99).toISOString(),
  });
  calls.push({ type: 'track', event: 'viewed', userId: 'old-1', timestamp: new Date(T + 98).toISOString() });
  return parseBatch({ batch: calls }, T + 1000);
}

const env = (vars: Record<string, string>) => ({
  TIDELINE_STORE: 'redis',
  TIDELINE_QUEUE: 'bullmq',
  ...vars,
});

describe('queue partitions', () => {
  it('a request is split by partition with linked messages together, in the request order, none lost', () => {
    const messages = batch();
    const partitions = new QueuePartitions(8);
    const parts = ingestParts(messages, partitions);
    assert.ok(parts.size > 1, 'the users spread over several partitions');
    assert.deepEqual(
      [...parts.values()].flat().sort((a, b) => a.messageId.localeCompare(b.messageId)),
      [...messages].sort((a, b) => a.messageId.localeCompare(b.messageId)),
    );
    const partOf = new Map([...parts].flatMap(([p, ms]) => ms.map((m) => [m, p] as const)));
    for (let u = 0; u < 40; u++) {
      const linked = messages.filter((m) => m.userId === `user-${u}` || m.anonymousId === `anon-${u}`);
      assert.equal(new Set(linked.map((m) => partOf.get(m))).size, 1, `user-${u}'s calls in one partition`);
      assert.equal(
        partOf.get(linked[0]),
        partitions.of(`u:user-${u}`),
        `user-${u} goes to their profile's partition`,
      );
    }
    const aliased = messages.filter((m) => m.userId === 'old-1' || m.previousId === 'old-1');
    assert.deepEqual(new Set(aliased.map((m) => partOf.get(m))), new Set([partOf.get(messages[1 * 3])]));
    for (const part of parts.values())
      assert.deepEqual(
        part,
        messages.filter((m) => part.includes(m)),
        'each part keeps the request order',
      );
    assert.deepEqual([...ingestParts(messages, QueuePartitions.single)], [[0, messages]]);
  });

  it('a request is acknowledged once every partition holding its messages has its job', async () => {
    const added: { queue: string; jobs: NewJob<unknown>[] }[] = [];
    const failing = new Set<string>();
    const scheduler = {
      add: async (queue: string, name: string, data: unknown) => {
        if (failing.has(queue)) throw new Error('Redis went away');
        added.push({ queue, jobs: [{ name, data }] });
        return 'id';
      },
    } as unknown as Scheduler;
    const partitions = new QueuePartitions(8);
    const buffer = new IngestBuffer(scheduler, { maxMessages: 500, maxWaitMs: 1 }, undefined, partitions);
    const messages = batch();
    await buffer.accept(messages);
    const parts = ingestParts(messages, partitions);
    assert.deepEqual(
      new Set(added.map((a) => a.queue)),
      new Set([...parts.keys()].map((p) => partitions.name(INGEST_QUEUE, p))),
    );
    // One partition's add fails: the request is refused (the client sends it again; messageIds dedupe).
    failing.add(partitions.name(INGEST_QUEUE, [...parts.keys()][1]));
    await assert.rejects(buffer.accept(messages), /Redis went away/);
  });

  it('partition queues: the queue name for partition 0, a numbered one for the others', () => {
    const partitions = new QueuePartitions(4);
    assert.deepEqual(partitions.names('ingest'), ['ingest', 'ingest.1', 'ingest.2', 'ingest.3']);
    assert.deepEqual(partitions.names('ingest').map(partitionOfQueue), [0, 1, 2, 3]);
    assert.equal(partitionOfQueue('recompute'), 0);
    assert.equal(new QueuePartitions(4, [3, 1]).perPartition(20), 10);
    assert.equal(new QueuePartitions(32).perPartition(20), 1);
  });

  it("each partition's hash tag lies in its equal share of the slots", () => {
    assert.equal(queueTag(0, 1), '{q}');
    for (const count of [2, 3, 32, 100]) {
      for (let p = 0; p < count; p++) {
        const slot = keySlot(queueTag(p, count).slice(1, -1));
        assert.ok(slot >= Math.floor((p * 16384) / count) && slot < Math.floor(((p + 1) * 16384) / count));
      }
    }
    assert.equal(keySlot('123456789'), 0x31c3);
  });

  it('the partitions come from the environment, and a wrong value is refused with what is wrong', () => {
    assert.equal(loadConfig('worker', env({})).queuePartitions.count, 1);
    assert.equal(
      loadConfig('worker', env({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).queuePartitions.count,
      1,
    );
    const subset = loadConfig(
      'worker',
      env({ TIDELINE_QUEUE_PARTITIONS: '16', TIDELINE_WORKER_PARTITIONS: '0-3, 8,9' }),
    );
    assert.deepEqual(subset.queuePartitions.consumed, [0, 1, 2, 3, 8, 9]);
    assert.equal(loadConfig('embedded', { TIDELINE_QUEUE_PARTITIONS: '16' }).queuePartitions.count, 1);
    const refused: [Record<string, string>, RegExp][] = [
      [{ TIDELINE_QUEUE_PARTITIONS: '0' }, /TIDELINE_QUEUE_PARTITIONS=0 must be an integer from 1 to 1024/],
      [{ TIDELINE_QUEUE_PARTITIONS: 'many' }, /TIDELINE_QUEUE_PARTITIONS=many/],
      [
        { TIDELINE_QUEUE_PARTITIONS: '8', TIDELINE_WORKER_PARTITIONS: '6-9' },
        /partition 8 does not exist: there are 8 \(0 to 7\)/,
      ],
      [
        { TIDELINE_WORKER_PARTITIONS: '1' },
        /TIDELINE_WORKER_PARTITIONS=1: partition 1 does not exist: there are 1/,
      ],
      [{ TIDELINE_QUEUE_PARTITIONS: '8', TIDELINE_WORKER_PARTITIONS: '3-1' }, /3-1 runs backwards/],
      [
        { TIDELINE_QUEUE_PARTITIONS: '8', TIDELINE_WORKER_PARTITIONS: 'even' },
        /even is not a partition or a range like 0-7/,
      ],
      [{ TIDELINE_QUEUE_PARTITIONS: '8', TIDELINE_WORKER_PARTITIONS: '1,,2' }, /an empty entry/],
    ];
    for (const [vars, message] of refused) {
      assert.throws(
        () => loadConfig('worker', env(vars)),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });
});
