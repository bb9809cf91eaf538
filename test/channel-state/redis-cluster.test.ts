import { removeKeys } from '../../dev/processes.ts';
import { RedisChannelState } from '../../engine/adapters/channel-state/redis.ts';
import { CLUSTER_BUCKETS } from '../../engine/adapters/redis-slots.ts';
import { channelStateConformance } from './conformance.ts';
import { onCluster } from '../helpers/cluster.ts';

// On a Redis Cluster, with cap windows in their profile's bucket as the processes keep them there.
const { redis, runPrefix } = await onCluster();
let states = 0;

channelStateConformance('redis cluster', async () => {
  const prefix = `${runPrefix}-${++states}`;
  return {
    state: new RedisChannelState(redis, prefix, { buckets: CLUSTER_BUCKETS }),
    cleanup: async () => void (await removeKeys(`${prefix}:`, redis)),
  };
});
