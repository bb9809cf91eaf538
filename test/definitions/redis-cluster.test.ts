import { removeKeys } from '../../dev/processes.ts';
import { redisPrefixes } from '../../cli/start/backends.ts';
import { RedisDefinitionStore } from '../../engine/adapters/definitions/redis.ts';
import { definitionsConformance } from './conformance.ts';
import { onCluster } from '../helpers/cluster.ts';

// On a Redis Cluster, with the prefix the processes use there.
const { clusterNodes, redis, runPrefix } = await onCluster();
let stores = 0;

definitionsConformance('redis cluster', async () => {
  const prefix = redisPrefixes({
    prefix: `${runPrefix}-${++stores}`,
    redisClusterNodes: clusterNodes,
  }).definitions;
  return {
    store: new RedisDefinitionStore({ redis, prefix }),
    cleanup: async () => void (await removeKeys(prefix, redis)),
  };
});
