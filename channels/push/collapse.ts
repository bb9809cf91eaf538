import { createHash } from 'node:crypto';
import type { Delivery, PushAddress, PushMessage } from '../provider.ts';

/** The message's collapse key: duplicates of one message id replace each other on the device. */
export function collapseKeyOf(delivery: Delivery<PushAddress, PushMessage>): string {
  return delivery.message.collapseKey ?? delivery.messageId;
}

/**
 * A collapse id within `maxBytes` (APNs `apns-collapse-id` and JPush `apns_collapse_id`: 64). A
 * longer key becomes its SHA-256 in hex (64 characters), which stays deterministic per key.
 */
export function fitCollapseId(key: string, maxBytes = 64): string {
  if (Buffer.byteLength(key) <= maxBytes) return key;
  return createHash('sha256').update(key).digest('hex').slice(0, maxBytes);
}
