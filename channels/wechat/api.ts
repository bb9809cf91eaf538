/**
 * An authenticated WeChat API call, classified: the app's cached access token in the query, the
 * JSON body, the HTTP-200 errcode convention, and the one token refresh + one retry the contract
 * allows an adapter.
 */
import { post, unanswered } from '../http.ts';
import type { ProviderResult } from '../provider.ts';
import { classifyErrcode } from './errcodes.ts';
import { parseWechatJson } from './json.ts';
import { AccessTokenCache, AccessTokenError } from './token.ts';

export const WECHAT_BASE_URL = 'https://api.weixin.qq.com';

/** An Official Account or Mini Program the engine sends for. */
export interface WechatApp {
  appId: string;
  /** The AppSecret. */
  secret: string;
}

export interface WechatApiOptions {
  apps: WechatApp[];
  /** Defaults to `https://api.weixin.qq.com`. */
  baseUrl?: string;
  /** Per HTTP request (token fetches included). Defaults to 5 s. */
  timeoutMs?: number;
  now?: () => number;
}

export interface CallOptions {
  /** The body carries a dedupe key (client_msg_id): a 5xx can be retried without a duplicate. */
  idempotent: boolean;
}

const DEFAULT_TIMEOUT_MS = 5000;
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

interface Attempt {
  result: ProviderResult;
  /** Set when the API rejected the token the attempt used. */
  rejectedToken?: string;
}

export class WechatApi {
  readonly now: () => number;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly tokens = new Map<string, AccessTokenCache>();

  constructor(options: WechatApiOptions) {
    this.baseUrl = (options.baseUrl ?? WECHAT_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
    for (const app of options.apps)
      this.tokens.set(
        app.appId,
        new AccessTokenCache({ ...app, baseUrl: this.baseUrl, now: this.now, timeoutMs: this.timeoutMs }),
      );
  }

  /** POSTs `body` to `path` for `appId`; never throws. `providerId` is the answer's `msgid`. */
  async call(appId: string, path: string, body: object, options: CallOptions): Promise<ProviderResult> {
    const tokens = this.tokens.get(appId);
    if (!tokens) return { class: 'PERM_CONFIG', code: 'unknown_app', detail: `no AppSecret for ${appId}` };
    const payload = JSON.stringify(body);
    const first = await this.attempt(tokens, path, payload, options);
    if (first.rejectedToken === undefined) return first.result;
    tokens.invalidate(first.rejectedToken);
    return (await this.attempt(tokens, path, payload, options)).result;
  }

  private async attempt(
    tokens: AccessTokenCache,
    path: string,
    payload: string,
    options: CallOptions,
  ): Promise<Attempt> {
    let token: string;
    try {
      token = await tokens.get();
    } catch (error) {
      if (error instanceof AccessTokenError) return { result: error.result };
      throw error;
    }
    const url = `${this.baseUrl}${path}?access_token=${encodeURIComponent(token)}`;
    const outcome = await post(url, { headers: JSON_HEADERS, body: payload, timeoutMs: this.timeoutMs });
    if (outcome.kind !== 'answer') return { result: unanswered(outcome) };
    // WeChat answers errors with HTTP 200: a 5xx comes from a gateway, executed or not.
    if (outcome.status >= 500)
      return { result: { class: options.idempotent ? 'RETRY' : 'UNKNOWN', code: `http_${outcome.status}` } };
    if (outcome.status !== 200) return { result: { class: 'PERM_CONFIG', code: `http_${outcome.status}` } };
    const answer = parseAnswer(outcome.text);
    if (!answer) return { result: { class: 'UNKNOWN', detail: 'the answer is not a JSON object' } };
    const result = classifyErrcode(answer.errcode, answer.errmsg, this.now());
    if (result.class === 'OK' && answer.msgid !== undefined) result.providerId = answer.msgid;
    return result.class === 'REFRESH_TOKEN' ? { result, rejectedToken: token } : { result };
  }
}

/** Template keyword values as WeChat takes them: `{ thing2: { value: '巧克力' } }`. */
export function keywordData(data: Record<string, string>): Record<string, { value: string }> {
  const out: Record<string, { value: string }> = {};
  for (const key in data) out[key] = { value: data[key] };
  return out;
}

interface Answer {
  errcode: number;
  errmsg?: string;
  msgid?: string;
}

function parseAnswer(text: string): Answer | null {
  let body: unknown;
  try {
    body = parseWechatJson(text);
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const { errcode, errmsg, msgid } = body as Record<string, unknown>;
  return {
    // Success answers of some APIs leave errcode out.
    errcode: typeof errcode === 'number' ? errcode : Number(errcode ?? 0),
    ...(typeof errmsg === 'string' ? { errmsg } : {}),
    ...(typeof msgid === 'number' || typeof msgid === 'string' ? { msgid: String(msgid) } : {}),
  };
}
