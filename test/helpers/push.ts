import type { Delivery, PushAddress, PushMessage } from '../../channels/provider.ts';

let seq = 0;

/** A push to `token` (title, body, one data key; transactional unless `message` says otherwise). */
export function pushDelivery(
  address: Omit<PushAddress, 'token'>,
  token: string,
  message: Partial<PushMessage> = {},
  messageId = `m-${++seq}`,
): Delivery<PushAddress, PushMessage> {
  return {
    messageId,
    address: { token, ...address },
    message: {
      title: 'Hello',
      body: 'World',
      data: { offer: 'spring' },
      category: 'transactional',
      ...message,
    },
    firstAttemptAt: Date.now(),
  };
}
