/**
 * The access token of one app (appId + AppSecret), from `POST /cgi-bin/stable_token` in normal
 * mode: every caller shares one token in memory and at most one fetch in flight.
 */
import { post } from '../http.ts';
import type { ProviderResult } from '../provider.ts';
import { classifyErrcode } from './errcodes.ts';

export interface AccessTokenOptions {
  /** `https://api.weixin.qq.com`, or a fake's `http://127.0.0.1:PORT`. */
  baseUrl: string;
  appId: string;
  secret: string;
  now?: () => number;
  timeoutMs?: number;
}

/** The token endpoint failed; `result` is what the send that needed the token answers. */
export class AccessTokenError extends Error {
  constructor(readonly result: ProviderResult) {
    super(`WeChat access token: ${[result.code ?? result.class, result.detail].filter(Boolean).join(' ')}`);
    this.name = 'AccessTokenError';
  }
}

/** Refetch this long before the token expires (the platform pre-rotates 5 minutes before). */
const REFRESH_MARGIN_S = 300;
const DEFAULT_TIMEOUT_MS = 5000;
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

interface IssuedToken {
  token: string;
  expiresIn: number;
}

export class AccessTokenCache {
  readonly appId: string;
  private readonly url: string;
  private readonly secret: string;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private token: string | null = null;
  private expiresAt = 0;
  private inFlight: Promise<string> | null = null;
  /** The last token an API call rejected: if normal mode hands it back, force a new one. */
  private rejected: string | null = null;

  constructor(options: AccessTokenOptions) {
    this.appId = options.appId;
    this.secret = options.secret;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/cgi-bin/stable_token`;
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The current token; rejects with an AccessTokenError when the token endpoint fails. */
  get(): Promise<string> {
    if (this.token !== null && this.now() < this.expiresAt) return Promise.resolve(this.token);
    this.inFlight ??= this.fetchToken().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** An API call rejected `token` (40001, 40014, 42001, 41001): the next `get` fetches a new one. */
  invalidate(token: string): void {
    this.rejected = token;
    if (this.token === token) this.token = null;
  }

  private async fetchToken(): Promise<string> {
    const startedAt = this.now();
    let issued = await this.request(false);
    if (issued.token === this.rejected) issued = await this.request(true);
    this.token = issued.token;
    this.expiresAt = startedAt + cacheLifetimeMs(issued.expiresIn);
    this.rejected = null;
    return issued.token;
  }

  private async request(forceRefresh: boolean): Promise<IssuedToken> {
    const payload = JSON.stringify({
      grant_type: 'client_credential',
      appid: this.appId,
      secret: this.secret,
      force_refresh: forceRefresh,
    });
    const outcome = await post(this.url, { headers: JSON_HEADERS, body: payload, timeoutMs: this.timeoutMs });
    if (outcome.kind !== 'answer')
      throw new AccessTokenError({ class: 'RETRY', code: outcome.code, detail: outcome.detail });
    if (outcome.status !== 200) {
      const result: ProviderResult = {
        class: outcome.status >= 500 ? 'RETRY' : 'PERM_CONFIG',
        code: `http_${outcome.status}`,
      };
      throw new AccessTokenError(result);
    }
    let body: { access_token?: unknown; expires_in?: unknown; errcode?: unknown; errmsg?: unknown };
    try {
      body = JSON.parse(outcome.text);
    } catch {
      throw new AccessTokenError({ class: 'RETRY', detail: 'token endpoint answered no JSON' });
    }
    if (typeof body.errcode === 'number' && body.errcode !== 0) {
      const errmsg = typeof body.errmsg === 'string' ? body.errmsg : undefined;
      const result = classifyErrcode(body.errcode, errmsg, this.now());
      // Busy or over quota passes; any other token endpoint error is the app's configuration.
      if (result.class !== 'RETRY' && result.class !== 'RETRY_LATER') result.class = 'PERM_CONFIG';
      throw new AccessTokenError(result);
    }
    if (typeof body.access_token !== 'string' || body.access_token === '')
      throw new AccessTokenError({ class: 'RETRY', detail: 'token endpoint answered no access_token' });
    return { token: body.access_token, expiresIn: Number(body.expires_in) };
  }
}

/**
 * `expires_in - 300 s`, but never less than half the lifetime: near its rotation stable_token
 * answers with `expires_in` close to 300, and a zero lifetime would refetch on every call.
 */
function cacheLifetimeMs(expiresIn: number): number {
  const seconds = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : REFRESH_MARGIN_S;
  return Math.max(seconds - REFRESH_MARGIN_S, seconds / 2) * 1000;
}
