import type { Scheduler } from '../ports/scheduler.ts';
import { bucketOf, CLUSTER_BUCKETS } from './adapters/redis-slots.ts';

/** As many partitions as there are buckets: more could not all get work. */
export const MAX_PARTITIONS = CLUSTER_BUCKETS;

/**
 * The per-user queues (ingest batches and users' timers) are split into partitions, each its own
 * queue, so that on a Redis Cluster they spread over the shards (each partition's keys carry a hash
 * tag of their own, see `queueTag`). A profile's work goes to the partition of its bucket group: its
 * bucket (the one its keys lie in on a cluster) modulo the partition count. Partition 0 is the queue's
 * own name, so going from one partition to several keeps the jobs already queued.
 *
 * Partitioning routes work; it does not serialise it. As before, jobs of one user may run at once in
 * different workers, and the commit loop's compare-and-set keeps their decisions exactly once.
 */
export class QueuePartitions {
  /** One partition: every queue under its own name. */
  static readonly single = new QueuePartitions(1);
  /** The partitions this process consumes, ascending. */
  readonly consumed: readonly number[];

  constructor(
    readonly count: number,
    consumed?: readonly number[],
  ) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS)
      throw new Error(`the partition count must be an integer from 1 to ${MAX_PARTITIONS}, not ${count}`);
    this.consumed = consumed
      ? [...new Set(consumed)].sort((a, b) => a - b)
      : Array.from({ length: count }, (_, i) => i);
    const outside = this.consumed.find((p) => !Number.isInteger(p) || p < 0 || p >= count);
    if (outside !== undefined)
      throw new Error(`partition ${outside} does not exist: there are ${count} (0 to ${count - 1})`);
  }

  /** The partition of a profile's work. */
  of(profileKey: string): number {
    return this.count === 1 ? 0 : bucketOf(profileKey, CLUSTER_BUCKETS) % this.count;
  }

  /** The queue of one partition of `queue`. */
  name(queue: string, partition: number): string {
    return partition === 0 ? queue : `${queue}.${partition}`;
  }

  /** Every partition's queue. */
  names(queue: string): string[] {
    return Array.from({ length: this.count }, (_, p) => this.name(queue, p));
  }

  /** The queues this process consumes. */
  consumedNames(queue: string): string[] {
    return this.consumed.map((p) => this.name(queue, p));
  }

  /**
   * Jobs run at once on each consumed partition, so that the process as a whole runs about
   * `concurrency` (each partition carries its share of the work).
   */
  perPartition(concurrency: number): number {
    return Math.max(1, Math.ceil(concurrency / this.consumed.length));
  }

  /** Jobs not yet finished in every partition of `queue`. */
  async pending(scheduler: Scheduler, queue: string): Promise<number> {
    const counts = await Promise.all(this.names(queue).map((name) => scheduler.pending(name)));
    return counts.reduce((a, b) => a + b, 0);
  }
}

/** The partition a queue name is of (`ingest.3` → 3); 0 for a queue's own name and unpartitioned queues. */
export function partitionOfQueue(name: string): number {
  const match = /\.(\d+)$/.exec(name);
  return match === null ? 0 : Number(match[1]);
}

/**
 * `0-7,12` (TIDELINE_WORKER_PARTITIONS) as partition numbers; throws a message that names what is
 * wrong (the caller checks them against the count).
 */
export function parsePartitionList(text: string): number[] {
  const partitions: number[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (range === null)
      throw new Error(`${part === '' ? 'an empty entry' : part} is not a partition or a range like 0-7`);
    const from = Number(range[1]);
    const to = range[2] === undefined ? from : Number(range[2]);
    if (to < from) throw new Error(`${part} runs backwards`);
    if (to >= MAX_PARTITIONS)
      throw new Error(`partition ${to} does not exist: there are at most ${MAX_PARTITIONS}`);
    for (let p = from; p <= to; p++) partitions.push(p);
  }
  return partitions;
}
