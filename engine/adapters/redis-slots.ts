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
