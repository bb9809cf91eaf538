import { jsonBody, jsonObject, post } from '../http.ts';
import type { ProviderResult } from '../provider.ts';
import { retryAfterMs } from '../push/retry-after.ts';
import { signAssertion } from './assertion.ts';
import type { ServiceAccount } from './service-account.ts';

/** A cached token is replaced this long before Google says it expires. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** The token endpoint failed: `result` says what that means for the send (nothing was sent to FCM). */
export class AccessTokenError extends Error {
  constructor(readonly result: ProviderResult) {
    super(`FCM access token: ${result.code ?? result.class}${result.detail ? ` (${result.detail})` : ''}`);
    this.name = 'AccessTokenError';
  }
}

export interface AccessTokenOptions {
  account: ServiceAccount;
  tokenUri: string;
  timeoutMs: number;
  now: () => number;
}

/**
 * OAuth2 access tokens of a service account (JWT bearer grant). Keeps the current token until
 * REFRESH_MARGIN_MS before it expires; concurrent callers share one refresh.
 */
export class AccessTokenSource {
  private current?: { token: string; refreshAt: number };
  private refreshing?: Promise<string>;

  constructor(private readonly options: AccessTokenOptions) {}

  /** A token to send with; rejects with AccessTokenError. */
  get(): Promise<string> {
    if (this.current && this.options.now() < this.current.refreshAt)
      return Promise.resolve(this.current.token);
    this.refreshing ??= this.fetchToken().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Forgets `token` after FCM refused it. A newer token stays: another send already refreshed. */
  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  private async fetchToken(): Promise<string> {
    const { account, tokenUri, timeoutMs, now } = this.options;
    const body = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: signAssertion(account, tokenUri, now()),
    }).toString();
    const answer = await post(tokenUri, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      timeoutMs,
    });
    // Whatever happened to the token request, the push itself was not sent.
    if (answer.kind !== 'answer')
      throw new AccessTokenError({
        class: 'RETRY',
        code: 'TOKEN_ENDPOINT',
        detail: `${answer.code}: ${answer.detail}`,
      });
    const grant = jsonObject(jsonBody(answer));
    if (answer.status === 200 && typeof grant.access_token === 'string') {
      const expiresIn = typeof grant.expires_in === 'number' ? grant.expires_in : 3600;
      this.current = { token: grant.access_token, refreshAt: now() + expiresIn * 1000 - REFRESH_MARGIN_MS };
      return grant.access_token;
    }
    const base = {
      code: typeof grant.error === 'string' ? grant.error : `HTTP_${answer.status}`,
      ...(typeof grant.error_description === 'string' ? { detail: grant.error_description } : {}),
    };
    const wait = retryAfterMs(answer.headers['retry-after']);
    if (answer.status === 429)
      throw new AccessTokenError({
        class: 'RETRY_LATER',
        ...base,
        ...(wait !== undefined ? { retryAfterMs: wait } : {}),
      });
    if (answer.status >= 500) throw new AccessTokenError({ class: 'RETRY', ...base });
    // invalid_grant (bad key, unknown account, clock skew), invalid_client, invalid_scope...
    throw new AccessTokenError({ class: 'PERM_CONFIG', ...base });
  }
}
