import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { removeKeys } from '../../dev/processes.ts';
import { localCluster } from '../../dev/redis-cluster.ts';
import { RedisChannelState } from '../../engine/adapters/channel-state/redis.ts';
import { connectRedis } from '../../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../../engine/adapters/redis-slots.ts';
import { channelStateConformance } from './conformance.ts';

// On a Redis Cluster (dev/redis-cluster.ts starts one on loopback unless REDIS_CLUSTER_NODES is set),
// with cap windows in their profile's bucket as the processes keep them there.
const clusterNodes = await localCluster();
const redis = connectRedis({ clusterNodes });
const runPrefix = `tltest-${randomBytes(6).toString('hex')}`;
let states = 0;

after(async () => {
  await removeKeys(runPrefix, redis);
  await redis.quit();
});

channelStateConformance('redis cluster', async () => {
  const prefix = `${runPrefix}-${++states}`;
  return {
    state: new RedisChannelState(redis, prefix, { buckets: CLUSTER_BUCKETS }),
    cleanup: async () => void (await removeKeys(`${prefix}:`, redis)),
  };
});
