import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisChannelState } from '../../engine/adapters/channel-state/redis.ts';
import { channelStateConformance } from './conformance.ts';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const runPrefix = `tltest:${randomBytes(6).toString('hex')}`;
let states = 0;

async function removeKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

after(async () => {
  await removeKeys(runPrefix);
  await redis.quit();
});

channelStateConformance('redis', async () => {
  const prefix = `${runPrefix}:${++states}`;
  return { state: new RedisChannelState(redis, prefix), cleanup: () => removeKeys(prefix) };
});

it('keeps no address in the names of its keys; entries of the earlier plain form are still found', async () => {
  const prefix = `${runPrefix}:${++states}`;
  const state = new RedisChannelState(redis, prefix);
  try {
    const go = await state.claim({
      messageId: 'm-blind',
      profileKey: 'u:ann',
      journeyId: 'cart',
      channel: 'sms',
      now: Date.now(),
      leaseMs: 30_000,
    });
    await state.settle({ ...go.record, state: 'done' }, ['aliyun-sms:biz-1:13800138000']);
    assert.equal(await state.firstSeen('aliyun-sms:up:13800138000:7', 60_000), true);
    assert.equal(await state.firstSeen('aliyun-sms:up:13800138000:7', 60_000), false);
    assert.equal(await state.lookup('aliyun-sms:biz-1:13800138000'), 'm-blind');
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
    assert.ok(keys.length >= 3);
    for (const key of keys) assert.ok(!key.includes('13800138000'), key);
    // An index entry written before keys were digests.
    await redis.set(`${prefix}:ch:idx:aliyun-sms:biz-2:13800138001`, 'm-old');
    assert.equal(await state.lookup('aliyun-sms:biz-2:13800138001'), 'm-old');
  } finally {
    await removeKeys(prefix);
  }
});

it('keeps suppressions and credits under digests, and renames the plain ones of earlier versions once', async () => {
  const prefix = `${runPrefix}:${++states}`;
  const state = new RedisChannelState(redis, prefix);
  const everything = async () => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        found.push(key);
        if ((await redis.type(key)) === 'hash') found.push(...Object.keys(await redis.hgetall(key)));
      }
    } while (cursor !== '0');
    return found.join('\n');
  };
  try {
    await state.suppress('email', 'new@example.com', { reason: 'opt_out', at: 1 });
    await state.grantCredit('wxapp:oNew:TPL1', 'accept');
    // What an earlier version wrote: the address as a field, the openid in a key name.
    await redis.hset(`${prefix}:ch:suppressed:sms`, '13800138002', JSON.stringify({ reason: 'stop', at: 2 }));
    await redis.set(`${prefix}:ch:credit:wxapp:oOld:TPL1`, '2');
    await state.renamePlainEntries();
    const kept = await everything();
    for (const name of ['new@example.com', 'oNew', '13800138002', 'oOld'])
      assert.ok(!kept.includes(name), name);
    assert.deepEqual(await state.suppressed('sms', '13800138002'), { reason: 'stop', at: 2 });
    assert.deepEqual(await state.suppressed('email', 'new@example.com'), { reason: 'opt_out', at: 1 });
    assert.equal(await state.credits('wxapp:oOld:TPL1'), 2);
    assert.equal(await state.takeCredit('wxapp:oNew:TPL1'), true);
    // Once per deployment.
    await redis.set(`${prefix}:ch:credit:wxapp:oLater:TPL1`, '1');
    await state.renamePlainEntries();
    assert.equal(await redis.get(`${prefix}:ch:credit:wxapp:oLater:TPL1`), '1');
  } finally {
    await removeKeys(prefix);
  }
});
