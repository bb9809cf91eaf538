import { crc32 } from 'node:zlib';

/**
 * How many buckets profiles are spread over on a Redis Cluster. Each bucket is one hash tag, so one
 * slot: every key of one profile's commit (and its share of the per-bucket indexes and counters) lies
 * in its bucket's slot. 1024 slots cover a cluster of up to a few dozen shards with many buckets each
 * (3 masters: 345, 336 and 343 buckets), while the reads that sum over all buckets stay short.
 * Changing it moves every profile: it is part of the data layout.
 */
export const CLUSTER_BUCKETS = 1024;

/** A profile's bucket: the CRC-32 of its key's UTF-8 bytes, modulo the bucket count. */
export function bucketOf(key: string, buckets: number): number {
  return buckets === 1 ? 0 : crc32(key) % buckets;
}

/** The hash tag of a bucket, as it appears in its keys. */
export const bucketTag = (bucket: number): string => `{${bucket}}`;
