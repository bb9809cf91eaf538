import type { Delivery, PushAddress, PushMessage } from '../provider.ts';
import { collapseKeyOf, fitCollapseId } from '../push/collapse.ts';
import { apnsExpiration, pushData } from '../push/payload.ts';

/** The `message` of an FCM HTTP v1 send request, as this client fills it. */
export interface FcmMessage {
  token: string;
  notification: { title: string; body: string; image?: string };
  data: Record<string, string>;
  android: { priority: 'high' | 'normal'; ttl?: string; collapse_key: string };
  apns: { headers: Record<string, string> };
  fcm_options?: { analytics_label: string };
}

/**
 * Renders a push for FCM. Transactional pushes go at high priority (APNs 10), marketing at normal
 * (APNs 5); the collapse key is set for Android and, through FCM, for APNs.
 */
export function toFcmMessage(
  delivery: Delivery<PushAddress, PushMessage>,
  nowMs: number,
  analyticsLabel?: string,
): FcmMessage {
  const { message } = delivery;
  const transactional = message.category === 'transactional';
  const collapseKey = collapseKeyOf(delivery);
  const apnsHeaders: Record<string, string> = {
    'apns-priority': transactional ? '10' : '5',
    'apns-collapse-id': fitCollapseId(collapseKey),
  };
  if (message.ttlSeconds !== undefined)
    apnsHeaders['apns-expiration'] = String(apnsExpiration(message.ttlSeconds, nowMs));
  return {
    token: delivery.address.token,
    notification: {
      title: message.title,
      body: message.body,
      ...(message.imageUrl ? { image: message.imageUrl } : {}),
    },
    data: pushData(message),
    android: {
      priority: transactional ? 'high' : 'normal',
      ...(message.ttlSeconds !== undefined ? { ttl: `${message.ttlSeconds}s` } : {}),
      collapse_key: collapseKey,
    },
    apns: { headers: apnsHeaders },
    ...(analyticsLabel ? { fcm_options: { analytics_label: analyticsLabel } } : {}),
  };
}
