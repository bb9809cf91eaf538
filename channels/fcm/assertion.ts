import { sign } from 'node:crypto';
import type { ServiceAccount } from './service-account.ts';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** Google refuses assertions that live longer than an hour. */
const ASSERTION_LIFETIME_S = 3600;

/** The service account's signed JWT (RS256) that the token endpoint exchanges for an access token. */
export function signAssertion(account: ServiceAccount, tokenUri: string, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: 'RS256', typ: 'JWT', kid: account.private_key_id };
  const claims = {
    iss: account.client_email,
    scope: FCM_SCOPE,
    aud: tokenUri,
    iat,
    exp: iat + ASSERTION_LIFETIME_S,
  };
  const unsigned = `${base64url(header)}.${base64url(claims)}`;
  const signature = sign('sha256', Buffer.from(unsigned), account.private_key);
  return `${unsigned}.${signature.toString('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
