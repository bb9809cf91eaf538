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

/** CRC-16/XMODEM, the checksum Redis Cluster maps keys to slots with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of a key, as `CLUSTER KEYSLOT` answers (its hash tag's, when it has a non-empty one). */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf('{');
  if (open >= 0) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % 16384;
}

const SLOTS = 16384;
const queueTags = new Map<string, string>();

/**
 * The hash tag of queue partition `partition` of `partitions`: a tag whose slot lies in the
 * partition's equal share of the slot range, so partitions spread evenly over masters that hold
 * contiguous equal ranges (what `redis-cli --cluster create` and `--cluster rebalance` make) instead of
 * wherever a hash puts them. One partition keeps `{q}`, the tag of an unpartitioned deployment.
 */
export function queueTag(partition: number, partitions: number): string {
  if (partitions === 1) return '{q}';
  const memo = `${partition}/${partitions}`;
  let tag = queueTags.get(memo);
  if (tag === undefined) {
    const from = Math.floor((partition * SLOTS) / partitions);
    const to = Math.floor(((partition + 1) * SLOTS) / partitions);
    for (let n = 0; tag === undefined; n++) {
      const text = `q${partition}.${n.toString(36)}`;
      const slot = keySlot(text);
      if (slot >= from && slot < to) tag = `{${text}}`;
    }
    queueTags.set(memo, tag);
  }
  return tag;
}
