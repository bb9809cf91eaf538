import { createHash } from 'node:crypto';
import type { Delivery, PushAddress, PushMessage } from '../provider.ts';
import { collapseKeyOf, fitCollapseId } from '../push/collapse.ts';
import { IMAGE_URL_KEY, pushData } from '../push/payload.ts';

export interface JpushAndroidNotification {
  alert: string;
  title: string;
  extras: Record<string, string>;
  /** Big-picture style (3) with the image URL. */
  style?: 3;
  big_pic_path?: string;
}

export interface JpushIosNotification {
  alert: { title: string; body: string };
  sound: 'default';
  extras: Record<string, string>;
  'mutable-content'?: true;
}

/** A JPush v3 push object for one device, as this client fills it. */
export interface JpushPush {
  platform: ['android'] | ['ios'];
  audience: { registration_id: [string] };
  notification: { android?: JpushAndroidNotification; ios?: JpushIosNotification };
  options: {
    sendno: number;
    time_to_live?: number;
    apns_production: boolean;
    apns_collapse_id?: string;
  };
}

/** JPush echoes `sendno` (a positive int32) in its answer; derived from the message id to match logs. */
export function sendno(messageId: string): number {
  return createHash('sha256').update(messageId).digest().readUInt32BE(0) & 0x7fffffff || 1;
}

/**
 * Renders a push for one registration id, on its platform only. `apns_production` is always
 * explicit (the API defaults to true, the official SDKs to false). iOS duplicates collapse through
 * `apns_collapse_id`; JPush has no collapse key for Android (`override_msg_id` needs the first
 * push's msg_id).
 */
export function toJpushPush(
  delivery: Delivery<PushAddress, PushMessage>,
  apnsProduction: boolean,
): JpushPush {
  const { message, address } = delivery;
  const extras = pushData(message);
  const options: JpushPush['options'] = {
    sendno: sendno(delivery.messageId),
    ...(message.ttlSeconds !== undefined ? { time_to_live: message.ttlSeconds } : {}),
    apns_production: apnsProduction,
  };
  if (address.platform === 'android')
    return {
      platform: ['android'],
      audience: { registration_id: [address.token] },
      notification: {
        android: {
          alert: message.body,
          title: message.title,
          extras,
          ...(message.imageUrl ? { style: 3, big_pic_path: message.imageUrl } : {}),
        },
      },
      options,
    };
  return {
    platform: ['ios'],
    audience: { registration_id: [address.token] },
    notification: {
      ios: {
        alert: { title: message.title, body: message.body },
        sound: 'default',
        extras: message.imageUrl ? { ...extras, [IMAGE_URL_KEY]: message.imageUrl } : extras,
        ...(message.imageUrl ? { 'mutable-content': true } : {}),
      },
    },
    options: { ...options, apns_collapse_id: fitCollapseId(collapseKeyOf(delivery)) },
  };
}
