import type { ProviderResult } from '../provider.ts';

/**
 * Push PERM_RECIPIENT answers (UNREGISTERED, 410 Unregistered, BadDeviceToken, JPush 1011...) all
 * mean the device token is dead. The contract has no field for it, so the result's `code` carries
 * this prefix before the provider's code: `delete-token:UNREGISTERED`.
 */
export const DELETE_TOKEN_PREFIX = 'delete-token:';

/** A PERM_RECIPIENT result telling the caller to delete the device token. */
export function deleteToken(providerCode: string, detail?: string): ProviderResult {
  return { class: 'PERM_RECIPIENT', code: DELETE_TOKEN_PREFIX + providerCode, ...(detail ? { detail } : {}) };
}

/** Whether a result asks for the device token to be deleted. */
export function isDeleteToken(result: ProviderResult): boolean {
  return result.class === 'PERM_RECIPIENT' && (result.code?.startsWith(DELETE_TOKEN_PREFIX) ?? false);
}
