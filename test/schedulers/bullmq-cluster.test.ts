import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeKeys } from '../../dev/processes.ts';
import { localCluster } from '../../dev/redis-cluster.ts';
import { redisPrefixes } from '../../cli/start/backends.ts';
import { connectRedis } from '../../engine/adapters/redis-connection.ts';
import { BullMQScheduler } from '../../engine/adapters/schedulers/bullmq.ts';
import { schedulerConformance } from './conformance.ts';

// BullMQ on a Redis Cluster (dev/redis-cluster.ts starts one on loopback unless REDIS_CLUSTER_NODES is
// set), with the hash-tagged queue prefix the processes use there.
const clusterNodes = await localCluster();
const redis = connectRedis({ clusterNodes });
const run = `tltest-${randomBytes(6).toString('hex')}`;
let made = 0;

after(async () => {
  await removeKeys(run, redis);
  await redis.quit();
});

schedulerConformance('bullmq on a cluster', async () => {
  const prefix = redisPrefixes({ prefix: `${run}-${++made}`, redisClusterNodes: clusterNodes }).queues;
  const scheduler = new BullMQScheduler({
    connection: { clusterNodes },
    prefix,
    maxAttempts: 3,
    backoffMs: 10,
  });
  return {
    scheduler,
    advance: (ms) => sleep(ms),
    cleanup: async () => {
      await scheduler.close();
      await removeKeys(prefix, redis);
    },
  };
});
