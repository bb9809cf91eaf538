import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { REDIS_URL, removeKeys } from '../../dev/processes.ts';
import { RedisChannelState } from '../../engine/adapters/channel-state/redis.ts';
import { connectRedis } from '../../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../../engine/adapters/redis-slots.ts';
import type { CapWindow } from '../../ports/channel-state.ts';
import { onCluster } from '../helpers/cluster.ts';

// What `tideline migrate` carries from one Redis to a cluster: a send's state keeps it from going twice,
// an opt-out is kept, and caps count what was sent before the move.
// The run's prefix: its keys on the cluster go with the cluster connection, after the file.
const { redis: cluster, runPrefix: prefix } = await onCluster();
const single = connectRedis({ url: REDIS_URL });
after(async () => {
  await removeKeys(`${prefix}:`, single);
  single.disconnect();
});

const DAY = 86_400_000;
const now = Date.now();
const window = (key: string, limit: number): CapWindow => ({ key, windowMs: DAY, limit });

it('channel state moved to a cluster: records, suppressions, credits and cap windows (a shared device split by profile); twice is once', async () => {
  const from = new RedisChannelState(single, prefix);
  const to = new RedisChannelState(cluster, prefix, { buckets: CLUSTER_BUCKETS });
  const claim = (messageId: string, profileKey: string) =>
    from.claim({ messageId, profileKey, journeyId: 'j', channel: 'push', now, leaseMs: 60_000 });
  const sent = await claim('m-1', 'u:ann');
  await from.settle({ ...sent.record, state: 'done', status: 'sent' }, ['fcm:provider-id-1']);
  await claim('m-2', 'u:bob');
  await from.suppress('sms', '+8613800000000', { reason: 'STOP', at: now });
  await from.grantCredit('app:openid:tpl', 'accept');
  await from.grantCredit('app:openid:tpl', 'accept');
  // Ann's own window and a device both Ann and Bob use, one send each.
  assert.deepEqual(
    await from.reserve('m-1', [window('u:ann:push:P1D', 1), window('device:tok:P1D', 5)], now, 'u:ann'),
    { ok: true },
  );
  assert.deepEqual(await from.reserve('m-2', [window('device:tok:P1D', 5)], now, 'u:bob'), { ok: true });
  await from.rateSlot('fcm', 10, now);

  const copied = await from.copyTo(to);
  assert.ok(copied > 0);
  assert.equal((await to.record('m-1'))?.state, 'done');
  assert.equal(
    (
      await to.claim({
        messageId: 'm-1',
        profileKey: 'u:ann',
        journeyId: 'j',
        channel: 'push',
        now,
        leaseMs: 60_000,
      })
    ).kind,
    'done',
    'a message sent before the move is not sent again',
  );
  assert.equal(await to.lookup('fcm:provider-id-1'), 'm-1');
  assert.equal(
    (
      await to.claim({
        messageId: 'm-2',
        profileKey: 'u:bob',
        journeyId: 'j',
        channel: 'push',
        now,
        leaseMs: 60_000,
      })
    ).kind,
    'busy',
    'a claim in flight stays held',
  );
  assert.equal((await to.suppressed('sms', '+8613800000000'))?.reason, 'STOP');
  assert.equal(await to.credits('app:openid:tpl'), 2);
  assert.deepEqual(
    await to.reserve('m-3', [window('u:ann:push:P1D', 1)], now, 'u:ann'),
    { ok: false, full: 'u:ann:push:P1D' },
    "Ann's window holds her send from before the move",
  );
  assert.deepEqual(
    await to.reserve('m-4', [window('device:tok:P1D', 1)], now, 'u:bob'),
    { ok: false, full: 'device:tok:P1D' },
    "the device's window holds Bob's send in Bob's bucket",
  );

  // Again: the same state, nothing doubled.
  await from.copyTo(to);
  assert.equal(await to.credits('app:openid:tpl'), 2);
  assert.deepEqual(
    await to.reserve('m-5', [window('device:tok:P1D', 2)], now, 'u:ann'),
    { ok: true },
    'one send of Ann on the device before',
  );
});
