import type { PushMessage } from '../provider.ts';

/** The data key that carries `PushMessage.deepLink` to the app (all push providers). */
export const DEEP_LINK_KEY = 'deepLink';

/** The data key that carries `PushMessage.imageUrl` where the provider has no image field (an iOS notification service extension reads it). */
export const IMAGE_URL_KEY = 'imageUrl';

/** The custom key/values of a push: the message's data, plus its deep link. */
export function pushData(message: PushMessage): Record<string, string> {
  return message.deepLink ? { ...message.data, [DEEP_LINK_KEY]: message.deepLink } : { ...message.data };
}

/** `apns-expiration` (Unix seconds) for a time to live; 0 keeps its APNs meaning: try once, do not store. */
export function apnsExpiration(ttlSeconds: number, nowMs: number): number {
  return ttlSeconds === 0 ? 0 : Math.floor(nowMs / 1000) + ttlSeconds;
}
