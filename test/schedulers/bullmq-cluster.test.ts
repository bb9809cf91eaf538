import { setTimeout as sleep } from 'node:timers/promises';
import { removeKeys } from '../../dev/processes.ts';
import { redisPrefixes } from '../../cli/start/backends.ts';
import { BullMQScheduler } from '../../engine/adapters/schedulers/bullmq.ts';
import { QueuePartitions } from '../../engine/queue-partitions.ts';
import { schedulerConformance } from './conformance.ts';
import { onCluster } from '../helpers/cluster.ts';

// BullMQ on a Redis Cluster, with the hash-tagged queue prefixes the processes use there (by default
// partitioned: a queue `x.N` is under partition N's tag).
const { clusterNodes, redis, runPrefix: run } = await onCluster();
let made = 0;

schedulerConformance('bullmq on a cluster', async () => {
  const base = `${run}-${++made}`;
  const prefix = redisPrefixes({
    prefix: base,
    redisClusterNodes: clusterNodes,
    queuePartitions: new QueuePartitions(32),
  }).queues;
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
      await removeKeys(base, redis);
    },
  };
});
