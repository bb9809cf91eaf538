import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { removeKeys } from '../../dev/processes.ts';
import { localCluster } from '../../dev/redis-cluster.ts';
import { redisPrefixes } from '../../cli/start/backends.ts';
import { RedisDefinitionStore } from '../../engine/adapters/definitions/redis.ts';
import { connectRedis } from '../../engine/adapters/redis-connection.ts';
import { definitionsConformance } from './conformance.ts';

// On a Redis Cluster (dev/redis-cluster.ts starts one on loopback unless REDIS_CLUSTER_NODES is set),
// with the prefix the processes use there.
const clusterNodes = await localCluster();
const redis = connectRedis({ clusterNodes });
const runPrefix = `tltest-${randomBytes(6).toString('hex')}`;
let stores = 0;

after(async () => {
  await removeKeys(runPrefix, redis);
  await redis.quit();
});

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
