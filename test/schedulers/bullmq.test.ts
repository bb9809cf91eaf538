import { removeKeys as removeKeysOn } from '../../dev/processes.ts';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import { Redis } from 'ioredis';
import { BullMQScheduler, decodeId, encodeId } from '../../engine/adapters/schedulers/bullmq.ts';
import { schedulerConformance } from './conformance.ts';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `tideline-test-${process.pid}-${Date.now().toString(36)}`;
const redis = new Redis(url);
let made = 0;

/** Deletes this run's keys only. */
const removeKeys = async (prefix: string): Promise<void> => void (await removeKeysOn(`${prefix}:`, redis));

function open(prefix: string): BullMQScheduler {
  return new BullMQScheduler({ connection: { url }, prefix, maxAttempts: 3, backoffMs: 10 });
}

after(async () => {
  await removeKeys(run);
  await redis.quit();
});

schedulerConformance('bullmq', async () => {
  const prefix = `${run}-${++made}`;
  const scheduler = open(prefix);
  return {
    scheduler,
    advance: (ms) => sleep(ms),
    cleanup: async () => {
      await scheduler.close();
      await removeKeys(prefix);
    },
  };
});

describe('BullMQScheduler', () => {
  it('encodes any id into one BullMQ accepts, and back', () => {
    for (const id of ['plain', 'a:b:c', '42', '%3A', '用户🙂', '', '#x']) {
      const jobId = encodeId(id);
      assert.ok(!jobId.includes(':'), jobId);
      assert.notEqual(`${Number.parseInt(jobId, 10)}`, jobId);
      assert.equal(decodeId(jobId), id);
    }
    assert.equal(encodeId('user:42'), '#user%3A42');
    assert.equal(decodeId(`repeat:${encodeId('a:b')}:1767225600000`), 'repeat:a:b:1767225600000');
    assert.equal(decodeId('17'), '17');
  });

  it('passes the timezone of a repeat schedule to BullMQ', async () => {
    const prefix = `${run}-tz`;
    const scheduler = open(prefix);
    const queue = new Queue('q', { connection: redis, prefix });
    try {
      const spec = { cron: '0 9 * * *', tz: 'Asia/Shanghai' };
      const before = Date.now();
      await scheduler.repeat('q', 'daily:digest', spec, 'digest', { kind: 'daily' });
      const stored = await queue.getJobScheduler(encodeId('daily:digest'));
      const expected = CronExpressionParser.parse(spec.cron, { currentDate: new Date(before), tz: spec.tz });
      assert.equal(stored?.tz, 'Asia/Shanghai');
      assert.equal(stored?.next, expected.next().getTime());
      assert.equal(new Date(stored?.next ?? 0).getUTCHours(), 1);
    } finally {
      await queue.close();
      await scheduler.close();
      await removeKeys(prefix);
    }
  });

  it('reports a job that failed its last attempt', async () => {
    const prefix = `${run}-failed`;
    const failures: string[] = [];
    const scheduler = new BullMQScheduler({
      connection: { url },
      prefix,
      maxAttempts: 2,
      backoffMs: 10,
      onFailed: (queue, job, error) =>
        failures.push(`${queue}/${job.id}/${job.attempt}: ${(error as Error).message}`),
    });
    try {
      scheduler.process(
        'q',
        async () => {
          throw new Error('nope');
        },
        { concurrency: 1 },
      );
      await scheduler.add('q', 'x', {}, { id: 'bad:1' });
      for (let i = 0; i < 100 && failures.length === 0; i++) await sleep(20);
      assert.deepEqual(failures, ['q/bad:1/2: nope']);
    } finally {
      await scheduler.close();
      await removeKeys(prefix);
    }
  });
});
