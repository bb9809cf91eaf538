import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { removeKeys } from '../../dev/processes.ts';
import { localCluster } from '../../dev/redis-cluster.ts';
import { connectRedis, type RedisClient } from '../../engine/adapters/redis-connection.ts';

/**
 * A connection to the Redis Cluster of the cluster suites (dev/redis-cluster.ts starts one on loopback
 * unless REDIS_CLUSTER_NODES is set) and a key prefix of this run's own, whose keys go after the file.
 */
export async function onCluster(): Promise<{
  clusterNodes: string[];
  redis: RedisClient;
  runPrefix: string;
}> {
  const clusterNodes = await localCluster();
  const redis = connectRedis({ clusterNodes });
  const runPrefix = `tltest-${randomBytes(6).toString('hex')}`;
  after(async () => {
    await removeKeys(runPrefix, redis);
    await redis.quit();
  });
  return { clusterNodes, redis, runPrefix };
}
