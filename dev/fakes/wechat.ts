/**
 * A local WeChat API on 127.0.0.1: access tokens, template and subscribe sends
 * checked against registered templates, client_msg_id dedupe, outcomes scripted by openid, and a
 * push simulator that signs (and in safe mode encrypts) events like WeChat and retries them.
 * Used by tests, benchmarks and dev scripts: no test framework imports here.
 *
 * Scripted openids: one ending `_<errcode>` (`_43004`, `_43101`, `_40003`, `_45011`...) is answered
 * with that errcode, `_busy` with -1, `_quota` with 45009; `_slow` is recorded, then answered after
 * `slowMs` (longer than the client's timeout).
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encrypt, getSignature } from '@wecom/crypto';
import type { CallbackKeys } from '../../channels/wechat/callback.ts';
import { keyLimitProblems } from '../../templates/wechat-keys.ts';
import { FakeTimers } from './timers.ts';

export interface WechatFakeOptions {
  /** appId → AppSecret. Without it any pair gets a token; with it others get 40013 / 40125. */
  apps?: Record<string, string>;
  /** Template id → its keyword keys (template and subscribe sends alike). */
  templates?: Record<string, string[]>;
  /** Delay before every answer. */
  latencyMs?: number;
  /** How long `_slow` openids wait before the answer. Defaults to 2 s. */
  slowMs?: number;
  /** How long `postEvent` waits for the callback's answer before trying again (WeChat: 5 s). */
  pushTimeoutMs?: number;
  now?: () => number;
}

/** A message the fake accepted (once per client_msg_id and openid within 10 minutes). */
export interface SentWechat {
  api: 'template' | 'subscribe';
  appId: string;
  touser: string;
  templateId: string;
  clientMsgId?: string;
  msgid: string;
  /** The keyword values (`{ thing2: '巧克力' }`). */
  data: Record<string, string>;
  /** The request body as received. */
  body: Record<string, unknown>;
  at: number;
}

/** The callback's Token, EncodingAESKey (safe mode) and app. */
export type PushKeys = Pick<CallbackKeys, 'token' | 'encodingAESKey' | 'appId'>;

/** The callback's answer to a push; status null when none of the attempts got one. */
export interface PushAnswer {
  status: number | null;
  body: string;
  attempts: number;
}

export interface WechatFake {
  url: string;
  /** Tokens handed out (normal-mode stable_token calls that return the current one do not count). */
  readonly tokensIssued: number;
  /** Calls of the token endpoints. */
  readonly tokenRequests: number;
  /** Send calls received, rejected and duplicate ones included. */
  readonly sendRequests: number;
  readonly sent: SentWechat[];
  /** The token answers 42001 from now on; stable_token issues a new one. */
  expireToken(token: string): void;
  /** The token answers 40001, but normal-mode stable_token keeps handing it out (force_refresh replaces it). */
  rejectToken(token: string): void;
  setLatency(ms: number): void;
  /** POSTs an event to `callbackUrl` like WeChat: signed, encrypted with an EncodingAESKey, 3 attempts. */
  postEvent(callbackUrl: string, xml: string, keys: PushKeys): Promise<PushAnswer>;
  close(): Promise<void>;
}

const TOKEN_LIFETIME_S = 7200;
const DEDUPE_WINDOW_MS = 10 * 60_000;
const PUSH_ATTEMPTS = 3;
const STATES = ['developer', 'trial', 'formal'];
const LANGS = ['zh_CN', 'en_US', 'zh_HK', 'zh_TW'];

const ERRMSGS: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40037: 'invalid template_id',
  40125: 'invalid appsecret',
  41001: 'access_token missing',
  42001: 'access_token expired',
  43004: 'require subscribe',
  43101: 'user refuse to accept the msg',
  45009: 'reach max api daily quota limit',
  47001: 'data format error',
  47003: 'argument invalid!',
};

interface IssuedToken {
  appId: string;
  expiresAt: number;
  /** 42001 */
  expired: boolean;
  /** 40001 (replaced by force_refresh, or rejected by the test) */
  invalid: boolean;
  /** Still handed out by normal mode although invalid. */
  sticky: boolean;
}

type Answer = Record<string, unknown>;

export async function startWechatFake(options: WechatFakeOptions = {}): Promise<WechatFake> {
  const now = options.now ?? Date.now;
  const templates = options.templates ?? {};
  const slowMs = options.slowMs ?? 2000;
  const pushTimeoutMs = options.pushTimeoutMs ?? 5000;
  let latencyMs = options.latencyMs ?? 0;
  let issuedCount = 0;
  let tokenRequests = 0;
  let sendRequests = 0;
  // 19-digit msgids, like WeChat's 64-bit ones (too long for a double).
  let nextMsgId = 3_000_000_000_000_000_000n;
  const tokens = new Map<string, IssuedToken>();
  const current = new Map<string, string>();
  const dedupe = new Map<string, { msgid: string; at: number }>();
  const sent: SentWechat[] = [];
  const timers = new FakeTimers();
  const sleep = (ms: number) => timers.sleep(ms);

  function failure(errcode: number, detail = ''): Answer {
    const errmsg = `${ERRMSGS[errcode] ?? 'error'}${detail} rid: ${randomBytes(6).toString('hex')}`;
    return { errcode, errmsg };
  }

  function issue(appId: string): Answer {
    const token = `tok-${++issuedCount}`;
    tokens.set(token, {
      appId,
      expiresAt: now() + TOKEN_LIFETIME_S * 1000,
      expired: false,
      invalid: false,
      sticky: false,
    });
    current.set(appId, token);
    return { access_token: token, expires_in: TOKEN_LIFETIME_S };
  }

  function credentialsProblem(appId: unknown, secret: unknown): Answer | null {
    if (typeof appId !== 'string' || !appId) return failure(40013);
    if (!options.apps) return typeof secret === 'string' && secret ? null : failure(40125);
    if (!Object.hasOwn(options.apps, appId)) return failure(40013);
    return options.apps[appId] === secret ? null : failure(40125);
  }

  function stableToken(body: Answer): Answer {
    if (body.grant_type !== 'client_credential') return failure(40002);
    const problem = credentialsProblem(body.appid, body.secret);
    if (problem) return problem;
    const appId = body.appid as string;
    const held = current.get(appId);
    const state = held === undefined ? undefined : tokens.get(held);
    if (body.force_refresh === true) {
      if (state) state.invalid = true;
      return issue(appId);
    }
    if (held && state && !state.expired && now() < state.expiresAt && (!state.invalid || state.sticky))
      return { access_token: held, expires_in: Math.floor((state.expiresAt - now()) / 1000) };
    return issue(appId);
  }

  function plainToken(query: URLSearchParams): Answer {
    if (query.get('grant_type') !== 'client_credential') return failure(40002);
    const problem = credentialsProblem(query.get('appid'), query.get('secret'));
    return problem ?? issue(query.get('appid')!);
  }

  async function send(api: SentWechat['api'], query: URLSearchParams, body: Answer | null): Promise<Answer> {
    sendRequests++;
    const token = query.get('access_token');
    if (!token) return failure(41001);
    const state = tokens.get(token);
    if (!state || state.invalid) return failure(40001);
    if (state.expired || now() >= state.expiresAt) return failure(42001);
    if (!body) return failure(47001);
    const touser = body.touser;
    if (typeof touser !== 'string' || !/^[\w-]{1,64}$/.test(touser)) return failure(40003);
    const scripted = /_(\d{5})$/.exec(touser)?.[1];
    if (scripted) return failure(Number(scripted));
    if (touser.endsWith('_busy')) return failure(-1);
    if (touser.endsWith('_quota')) return failure(45009);
    const templateId = body.template_id;
    const keys =
      typeof templateId === 'string' && Object.hasOwn(templates, templateId)
        ? templates[templateId]
        : undefined;
    if (!keys) return failure(40037);
    const data = keywordValues(body.data);
    if (!data) return failure(47003, ' data invalid');
    const wrongKey = [...Object.keys(data), ...keys].find((key) => !keys.includes(key) || !(key in data));
    if (wrongKey !== undefined) return failure(47003, ` data.${wrongKey}.value invalid`);
    const problem = keyLimitProblems(data)[0];
    if (problem) return failure(47003, ` data.${problem.key}.value invalid`);
    if (api === 'subscribe') {
      if (body.miniprogram_state !== undefined && !STATES.includes(String(body.miniprogram_state)))
        return failure(47003, ' miniprogram_state invalid');
      if (body.lang !== undefined && !LANGS.includes(String(body.lang)))
        return failure(47003, ' lang invalid');
    }
    const clientMsgId =
      api === 'template' && typeof body.client_msg_id === 'string' ? body.client_msg_id : undefined;
    const dedupeKey = clientMsgId === undefined ? undefined : `${touser}\n${clientMsgId}`;
    const first = dedupeKey === undefined ? undefined : dedupe.get(dedupeKey);
    if (first && now() - first.at < DEDUPE_WINDOW_MS) return { errcode: 0, errmsg: 'ok', msgid: first.msgid };
    const msgid = String(nextMsgId++);
    if (dedupeKey !== undefined) dedupe.set(dedupeKey, { msgid, at: now() });
    sent.push({
      api,
      appId: state.appId,
      touser,
      templateId: templateId as string,
      ...(clientMsgId !== undefined ? { clientMsgId } : {}),
      msgid,
      data,
      body,
      at: now(),
    });
    if (touser.endsWith('_slow')) await sleep(slowMs);
    return { errcode: 0, errmsg: 'ok', msgid };
  }

  async function answer(req: IncomingMessage): Promise<{ status: number; answer: Answer }> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const text = await readBody(req);
    const body = parseObject(text);
    if (latencyMs > 0) await sleep(latencyMs);
    switch (`${req.method} ${url.pathname}`) {
      case 'POST /cgi-bin/stable_token':
        tokenRequests++;
        return { status: 200, answer: body ? stableToken(body) : failure(47001) };
      case 'GET /cgi-bin/token':
        tokenRequests++;
        return { status: 200, answer: plainToken(url.searchParams) };
      case 'POST /cgi-bin/message/template/send':
        return { status: 200, answer: await send('template', url.searchParams, body) };
      case 'POST /cgi-bin/message/subscribe/send':
        return { status: 200, answer: await send('subscribe', url.searchParams, body) };
      default:
        return { status: 404, answer: { errcode: 404, errmsg: 'not found' } };
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    answer(req).then(
      ({ status, answer }) => {
        // msgids go out as bare 64-bit numbers, as WeChat writes them.
        const json = JSON.stringify(answer).replace(/"msgid":"(\d+)"/, '"msgid":$1');
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(json);
      },
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get tokensIssued() {
      return issuedCount;
    },
    get tokenRequests() {
      return tokenRequests;
    },
    get sendRequests() {
      return sendRequests;
    },
    sent,
    expireToken(token) {
      const state = tokens.get(token);
      if (state) state.expired = true;
    },
    rejectToken(token) {
      const state = tokens.get(token);
      if (state) Object.assign(state, { invalid: true, sticky: true });
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    async postEvent(callbackUrl, xml, keys) {
      const { query, body } = signedPush(xml, keys, now());
      const url = new URL(callbackUrl);
      for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
      for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'text/xml' },
            body,
            signal: AbortSignal.timeout(pushTimeoutMs),
          });
          return { status: response.status, body: await response.text(), attempts: attempt };
        } catch {}
      }
      return { status: null, body: '', attempts: PUSH_ATTEMPTS };
    },
    async close() {
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The query and body WeChat would POST for `xml`: `signature` over token, timestamp and nonce
 * (+ `openid`), and with an EncodingAESKey the encrypted envelope with `encrypt_type=aes` and
 * `msg_signature`.
 */
export function signedPush(
  xml: string,
  keys: PushKeys,
  nowMs: number,
): { query: Record<string, string>; body: string } {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = String(randomInt(1e9));
  const signature = createHash('sha1').update([keys.token, timestamp, nonce].sort().join('')).digest('hex');
  const query: Record<string, string> = { signature, timestamp, nonce };
  const openid = cdata(xml, 'FromUserName');
  if (openid) query.openid = openid;
  if (!keys.encodingAESKey) return { query, body: xml };
  const encrypted = encrypt(keys.encodingAESKey, xml, keys.appId);
  const body = `<xml><ToUserName><![CDATA[${cdata(xml, 'ToUserName') ?? ''}]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`;
  return {
    query: {
      ...query,
      encrypt_type: 'aes',
      msg_signature: getSignature(keys.token, timestamp, nonce, encrypted),
    },
    body,
  };
}

function cdata(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>\\s*(?:<!\\[CDATA\\[(.*?)\\]\\]>|([^<]*))\\s*</${tag}>`).exec(xml);
  return match?.[1] ?? match?.[2];
}

/** `{ key: { value } }` as `{ key: value }`; null when not that shape. */
function keywordValues(data: unknown): Record<string, string> | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  const values: Record<string, string> = {};
  for (const [key, entry] of Object.entries(data)) {
    if (typeof entry !== 'object' || entry === null || typeof (entry as Answer).value !== 'string')
      return null;
    values[key] = (entry as Answer).value as string;
  }
  return values;
}

function parseObject(text: string): Answer | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Answer) : null;
  } catch {
    return null;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
