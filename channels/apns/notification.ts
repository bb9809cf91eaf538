import { createHash } from 'node:crypto';
import apn from '@parse/node-apn';
import type { Delivery, PushAddress, PushMessage } from '../provider.ts';
import { collapseKeyOf, fitCollapseId } from '../push/collapse.ts';
import { apnsExpiration, IMAGE_URL_KEY, pushData } from '../push/payload.ts';

/**
 * The `apns-id` of a message: a UUID (version 8) derived from the message id, so every attempt of
 * one message carries the same id in APNs' answers and Apple's console.
 */
export function apnsId(messageId: string): string {
  const bytes = createHash('sha256').update(messageId).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x80;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Renders a push as an alert notification for `topic` (the bundle id): priority 10 for
 * transactional, 5 (power-considerate) for marketing; custom keys next to `aps`. An image URL
 * sets mutable-content so a notification service extension can fetch it.
 */
export function toApnsNotification(
  delivery: Delivery<PushAddress, PushMessage>,
  topic: string,
  nowMs: number,
): apn.Notification {
  const { message } = delivery;
  const note = new apn.Notification();
  note.topic = topic;
  note.pushType = 'alert';
  note.priority = message.category === 'transactional' ? 10 : 5;
  note.id = apnsId(delivery.messageId);
  note.collapseId = fitCollapseId(collapseKeyOf(delivery));
  if (message.ttlSeconds !== undefined) note.expiry = apnsExpiration(message.ttlSeconds, nowMs);
  note.alert = { title: message.title, body: message.body };
  if (message.imageUrl) note.mutableContent = true;
  note.payload = { ...pushData(message), ...(message.imageUrl ? { [IMAGE_URL_KEY]: message.imageUrl } : {}) };
  return note;
}
