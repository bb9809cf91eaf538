import type { Delivery, ProviderResult, PushAddress, PushMessage } from '../provider.ts';

/**
 * A token routed to the wrong adapter must not be sent: the provider would call it invalid and the
 * token would be deleted. Fails the send and keeps the recipient.
 */
export function providerMismatch(
  delivery: Delivery<PushAddress, PushMessage>,
  provider: PushAddress['provider'],
): ProviderResult | null {
  if (delivery.address.provider === provider) return null;
  return {
    class: 'PERM_MESSAGE',
    code: 'PROVIDER_MISMATCH',
    detail: `a ${delivery.address.provider} token handed to ${provider}`,
  };
}
