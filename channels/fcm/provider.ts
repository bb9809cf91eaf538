import { jsonBody, jsonObject, post, unanswered } from '../http.ts';
import type { ChannelProvider, Delivery, ProviderResult, PushAddress, PushMessage } from '../provider.ts';
import { providerMismatch } from '../push/mismatch.ts';
import { AccessTokenError, AccessTokenSource } from './access-token.ts';
import { classifyFcmError } from './errors.ts';
import { toFcmMessage } from './message.ts';
import { DEFAULT_TOKEN_URI, parseServiceAccount, type ServiceAccount } from './service-account.ts';

export interface FcmOptions {
  /** The Firebase project's service account key file: its JSON text or the parsed object. */
  serviceAccount: string | ServiceAccount;
  /** Defaults to the service account's `project_id`. */
  projectId?: string;
  /** Defaults to `https://fcm.googleapis.com`. */
  baseUrl?: string;
  /** Defaults to the service account's `token_uri`, else `https://oauth2.googleapis.com/token`. */
  tokenUri?: string;
  /** Per request (token grant or send); a send that times out is UNKNOWN. Defaults to 10 s. */
  timeoutMs?: number;
  /** `fcm_options.analytics_label` of a delivery (`[a-zA-Z0-9-_.~%]{1,50}`), if any. */
  analyticsLabel?: (delivery: Delivery<PushAddress, PushMessage>) => string | undefined;
  /** The clock (token expiry, apns-expiration); defaults to Date.now. */
  now?: () => number;
}

/** Firebase Cloud Messaging HTTP v1: one token per request, no reconcile. */
export class FcmProvider implements ChannelProvider<PushAddress, PushMessage> {
  readonly name = 'fcm';
  private readonly sendUrl: string;
  private readonly tokens: AccessTokenSource;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: FcmOptions) {
    const account = parseServiceAccount(options.serviceAccount);
    const baseUrl = (options.baseUrl ?? 'https://fcm.googleapis.com').replace(/\/+$/, '');
    const projectId = options.projectId ?? account.project_id;
    this.sendUrl = `${baseUrl}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.tokens = new AccessTokenSource({
      account,
      tokenUri: options.tokenUri ?? account.token_uri ?? DEFAULT_TOKEN_URI,
      timeoutMs: this.timeoutMs,
      now: this.now,
    });
  }

  async send(delivery: Delivery<PushAddress, PushMessage>): Promise<ProviderResult> {
    const mismatch = providerMismatch(delivery, 'fcm');
    if (mismatch) return mismatch;
    const body = JSON.stringify({
      message: toFcmMessage(delivery, this.now(), this.options.analyticsLabel?.(delivery)),
    });
    const first = await this.attempt(body);
    if (first.result.class !== 'REFRESH_TOKEN' || first.token === undefined) return first.result;
    // Google refused our access token (revoked, expired early): refresh once, retry once.
    this.tokens.invalidate(first.token);
    return (await this.attempt(body)).result;
  }

  private async attempt(body: string): Promise<{ result: ProviderResult; token?: string }> {
    let token: string;
    try {
      token = await this.tokens.get();
    } catch (error) {
      if (error instanceof AccessTokenError) return { result: error.result };
      throw error;
    }
    const answer = await post(this.sendUrl, {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
      timeoutMs: this.timeoutMs,
    });
    if (answer.kind !== 'answer') return { result: unanswered(answer), token };
    if (answer.status !== 200) return { result: classifyFcmError(answer), token };
    const name = jsonObject(jsonBody(answer)).name;
    return { result: { class: 'OK', ...(typeof name === 'string' ? { providerId: name } : {}) }, token };
  }
}
