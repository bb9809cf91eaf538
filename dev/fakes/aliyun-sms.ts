/**
 * A local Aliyun SMS endpoint (dysmsapi 2017-05-25) for the real SDK:
 * verifies the ACS3-HMAC-SHA256 signature, takes SendSms / SendBatchSms, serves what it took to
 * QuerySendDetails, and answers each phone number from a script. Used by tests, benchmarks and the
 * dev script, so it stays free of test-runner imports.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import { FakeTimers } from './timers.ts';

/** A message the fake took. */
export interface AcceptedSms {
  bizId: string;
  phone: string;
  outId?: string;
  signName: string;
  templateCode: string;
  params: Record<string, string>;
  at: number;
}

/** What the fake does with a send to one number. */
export type FakeSmsOutcome =
  /** Takes the message; `answerAfterMs` holds the answer back (to outlast the client's timeout). */
  | { kind: 'accept'; answerAfterMs?: number }
  /** HTTP 200 with a business Code (`isv.*`, `isp.*`); nothing taken. */
  | { kind: 'business'; code: string; message: string }
  /** A gateway error (HTTP 4xx / 5xx, `x-acs-retry-after` when given); nothing taken. */
  | { kind: 'gateway'; status: number; code: string; message: string; retryAfterMs?: number }
  /** Exactly this answer (malformed bodies, XML errors); nothing taken. */
  | { kind: 'raw'; status: number; body: string; contentType?: string };

/** Answers one number; `undefined` falls back to the default script. */
export type FakeSmsScript = (phone: string) => FakeSmsOutcome | undefined;

export interface AliyunSmsFakeOptions {
  /** Default `testAK` / `testSecret`. */
  accessKeyId?: string;
  accessKeySecret?: string;
  /** Added before every answer (benchmarks use 20 and 100 ms). */
  latencyMs?: number;
  script?: FakeSmsScript;
  /** How long the default script's `...0004` holds its answer back. Default 1,000 ms. */
  slowAnswerMs?: number;
  /** QuerySendDetails reports SendStatus 1 (waiting), then 3 (delivered) this long after the send. Default 100 ms. */
  deliveredAfterMs?: number;
}

export interface AliyunSmsFake {
  url: string;
  /** `host:port`, the SDK's `endpoint` (with `protocol: 'http'`). */
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Every message taken, in order. */
  accepted: AcceptedSms[];
  /** TCP connections opened to the fake so far (keep-alive reuse shows as few). */
  connections(): number;
  setLatency(ms: number): void;
  close(): Promise<void>;
}

/**
 * By the last four digits: 0001 illegal number, 0002 minute flow control, 0003 Throttling.User (400,
 * retry after 1,500 ms), 0004 taken but answered after `slowAnswerMs`, 0005 balance insufficient,
 * 0006 InternalError (500, not taken), 0007 template illegal, 0008 ServiceUnavailable (503),
 * 0009 missing template parameter; any other number is taken.
 */
export function defaultSmsScript(phone: string, slowAnswerMs = 1_000): FakeSmsOutcome {
  switch (phone.slice(-4)) {
    case '0001':
      return { kind: 'business', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: '非法手机号' };
    case '0002':
      return { kind: 'business', code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发分钟级流控Permits:1' };
    case '0003':
      return {
        kind: 'gateway',
        status: 400,
        code: 'Throttling.User',
        message: 'Request was denied due to user flow control.',
        retryAfterMs: 1_500,
      };
    case '0004':
      return { kind: 'accept', answerAfterMs: slowAnswerMs };
    case '0005':
      return { kind: 'business', code: 'isv.AMOUNT_NOT_ENOUGH', message: '账户余额不足' };
    case '0006':
      return {
        kind: 'gateway',
        status: 500,
        code: 'InternalError',
        message: 'The request processing has failed due to some unknown error.',
      };
    case '0007':
      return { kind: 'business', code: 'isv.SMS_TEMPLATE_ILLEGAL', message: '该账号下找不到对应模板' };
    case '0008':
      return {
        kind: 'gateway',
        status: 503,
        code: 'ServiceUnavailable',
        message: 'The service is unavailable.',
      };
    case '0009':
      return { kind: 'business', code: 'isv.TEMPLATE_MISSING_PARAMETERS', message: '模板缺少变量' };
    default:
      return { kind: 'accept' };
  }
}

interface Answer {
  status: number;
  /** JSON, or a string sent as it is. */
  body: Record<string, unknown> | string;
  headers?: Record<string, string>;
}

const ZONE = 'Asia/Shanghai';
const VERSION = '2017-05-25';

/** What Aliyun pushes (SmsReport) when the message with `bizId` reached `phone`. */
export function deliveredReport(phone: string, bizId: string, outId?: string) {
  return {
    phone_number: phone,
    send_time: '2026-11-22 10:00:01',
    report_time: '2026-11-22 10:00:05',
    success: true,
    err_code: 'DELIVERED',
    err_msg: '用户接收成功',
    sms_size: '1',
    biz_id: bizId,
    ...(outId === undefined ? {} : { out_id: outId }),
  };
}

export async function startAliyunSmsFake(options: AliyunSmsFakeOptions = {}): Promise<AliyunSmsFake> {
  const accessKeyId = options.accessKeyId ?? 'testAK';
  const accessKeySecret = options.accessKeySecret ?? 'testSecret';
  const slowAnswerMs = options.slowAnswerMs ?? 1_000;
  const deliveredAfterMs = options.deliveredAfterMs ?? 100;
  const script = (phone: string) => options.script?.(phone) ?? defaultSmsScript(phone, slowAnswerMs);
  let latencyMs = options.latencyMs ?? 0;
  let connections = 0;
  let bizIds = 0;
  const accepted: AcceptedSms[] = [];
  const timers = new FakeTimers();
  const sleep = (ms: number) => timers.sleep(ms);

  /** Takes the message for every number, or answers the first number that is not taken. */
  async function take(messages: Omit<AcceptedSms, 'bizId' | 'at'>[]): Promise<Answer> {
    const outcomes = messages.map((m) => script(m.phone));
    const refused = outcomes.find((o) => o.kind !== 'accept');
    if (refused?.kind === 'business') return business(refused.code, refused.message);
    if (refused?.kind === 'gateway') {
      const headers: Record<string, string> = {};
      if (refused.retryAfterMs !== undefined) headers['x-acs-retry-after'] = String(refused.retryAfterMs);
      return gateway(refused.status, refused.code, refused.message, headers);
    }
    if (refused?.kind === 'raw')
      return {
        status: refused.status,
        body: refused.body,
        headers: { 'content-type': refused.contentType ?? 'application/json;charset=utf-8' },
      };
    const bizId = `${900619746936 + ++bizIds}^0`;
    const at = Date.now();
    for (const m of messages) accepted.push({ bizId, ...m, at });
    const hold = Math.max(0, ...outcomes.map((o) => (o.kind === 'accept' ? (o.answerAfterMs ?? 0) : 0)));
    if (hold > 0) await sleep(hold);
    return ok({ BizId: bizId });
  }

  function sendSms(query: URLSearchParams): Promise<Answer> | Answer {
    const missing = required(query, ['PhoneNumbers', 'SignName', 'TemplateCode']);
    if (missing) return missing;
    const params = templateParams(query.get('TemplateParam'));
    if (params === null) return business('isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
    const phones = query.get('PhoneNumbers')!.split(',');
    if (phones.length > 1000) return business('isv.MOBILE_COUNT_OVER_LIMIT', '手机号码数量超过限制');
    const outId = query.get('OutId') ?? undefined;
    const signName = query.get('SignName')!;
    const templateCode = query.get('TemplateCode')!;
    return take(phones.map((phone) => ({ phone, outId, signName, templateCode, params })));
  }

  function sendBatchSms(query: URLSearchParams, form: URLSearchParams): Promise<Answer> | Answer {
    const missing = required(query, ['TemplateCode']) ?? required(form, ['PhoneNumberJson', 'SignNameJson']);
    if (missing) return missing;
    const phones = stringArray(form.get('PhoneNumberJson'));
    const signs = stringArray(form.get('SignNameJson'));
    const rawParams = form.get('TemplateParamJson');
    const params = rawParams === null ? phones?.map(() => ({})) : paramsArray(rawParams);
    if (!phones || !signs || !params) return business('isv.INVALID_JSON_PARAM', 'JSON参数不合法');
    if (phones.length > 100) return business('isv.MOBILE_COUNT_OVER_LIMIT', '手机号码数量超过限制');
    if (signs.length !== phones.length || params.length !== phones.length)
      return business('isv.INVALID_PARAMETERS', '参数异常：号码、签名与参数个数不一致');
    const outId = query.get('OutId') ?? undefined;
    const templateCode = query.get('TemplateCode')!;
    return take(
      phones.map((phone, i) => ({ phone, outId, signName: signs[i], templateCode, params: params[i] })),
    );
  }

  function querySendDetails(query: URLSearchParams): Answer {
    const missing = required(query, ['PhoneNumber', 'SendDate', 'PageSize', 'CurrentPage']);
    if (missing) return missing;
    const date = query.get('SendDate')!;
    const pageSize = Number(query.get('PageSize'));
    const page = Number(query.get('CurrentPage'));
    if (!/^\d{8}$/.test(date) || !(pageSize >= 1 && pageSize <= 50) || !(page >= 1))
      return business('isv.INVALID_PARAMETERS', '参数异常');
    const phone = query.get('PhoneNumber');
    const bizId = query.get('BizId');
    const now = Date.now();
    const matching = accepted.filter(
      (m) => m.phone === phone && shanghai(m.at, 'yyyyMMdd') === date && (!bizId || m.bizId === bizId),
    );
    const details = matching.slice((page - 1) * pageSize, page * pageSize).map((m) => {
      const delivered = now - m.at >= deliveredAfterMs;
      return {
        PhoneNum: m.phone,
        SendStatus: delivered ? 3 : 1,
        ErrCode: delivered ? 'DELIVERED' : '',
        TemplateCode: m.templateCode,
        Content: `【${m.signName}】${m.templateCode} ${JSON.stringify(m.params)}`,
        SendDate: shanghai(m.at, 'yyyy-MM-dd HH:mm:ss'),
        ReceiveDate: delivered ? shanghai(m.at + deliveredAfterMs, 'yyyy-MM-dd HH:mm:ss') : '',
        OutId: m.outId ?? '',
      };
    });
    return ok({ TotalCount: String(matching.length), SmsSendDetailDTOs: { SmsSendDetailDTO: details } });
  }

  async function answer(req: IncomingMessage, body: Buffer): Promise<Answer> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const refused = verifySignature(req, url, body, accessKeyId, accessKeySecret);
    if (refused) return refused;
    if (req.headers['x-acs-version'] !== VERSION)
      return gateway(400, 'InvalidVersion', 'Specified parameter Version is not valid.');
    const action = req.headers['x-acs-action'];
    if (action === 'SendSms') return sendSms(url.searchParams);
    if (action === 'SendBatchSms')
      return sendBatchSms(url.searchParams, new URLSearchParams(body.toString()));
    if (action === 'QuerySendDetails') return querySendDetails(url.searchParams);
    return gateway(
      404,
      'InvalidAction.NotFound',
      'Specified api is not found, please check your url and method.',
    );
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const reply = await Promise.all([
        answer(req, Buffer.concat(chunks)),
        latencyMs > 0 && sleep(latencyMs),
      ]).then(
        ([reply]) => reply,
        (error: unknown) => gateway(500, 'InternalError', `The fake failed: ${String(error)}`),
      );
      if (res.destroyed) return;
      res.writeHead(reply.status, { 'content-type': 'application/json;charset=utf-8', ...reply.headers });
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    });
  });
  // Longer than any client's idle keep-alive socket waits between sends.
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    endpoint: `127.0.0.1:${port}`,
    accessKeyId,
    accessKeySecret,
    accepted,
    connections: () => connections,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: async () => {
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * The ACS3-HMAC-SHA256 check, rebuilt from the request as received: the query,
 * every `host` / `content-type` / `x-acs-*` header, and the body's hash.
 */
function verifySignature(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  accessKeyId: string,
  accessKeySecret: string,
): Answer | null {
  const auth = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!auth)
    return gateway(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
  const [, credential, signedHeaders, signature] = auth;
  if (credential !== accessKeyId)
    return gateway(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

  const query = [...url.searchParams]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${encode(value)}`)
    .join('&');
  const names = Object.keys(req.headers)
    .filter((name) => name === 'host' || name === 'content-type' || name.startsWith('x-acs-'))
    .sort();
  const headers = names.map((name) => `${name}:${String(req.headers[name]).trim()}\n`).join('');
  const payload = createHash('sha256').update(body).digest('hex');
  const canonical = [req.method, url.pathname, query, headers, names.join(';'), payload].join('\n');
  const stringToSign = `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonical).digest('hex')}`;
  const expected = createHmac('sha256', accessKeySecret).update(stringToSign).digest('hex');
  if (signedHeaders !== names.join(';') || signature !== expected)
    return gateway(400, 'SignatureDoesNotMatch', 'Specified signature does not match our calculation.');
  return null;
}

/** encodeURIComponent, plus the characters it leaves alone that Aliyun escapes. */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function ok(fields: Record<string, unknown>): Answer {
  return { status: 200, body: { Code: 'OK', Message: 'OK', RequestId: requestId(), ...fields } };
}

function business(code: string, message: string): Answer {
  return { status: 200, body: { Code: code, Message: message, RequestId: requestId() } };
}

function gateway(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Answer {
  return {
    status,
    headers,
    body: { Code: code, Message: message, RequestId: requestId(), HostId: 'dysmsapi.aliyuncs.com' },
  };
}

function required(params: URLSearchParams, names: string[]): Answer | undefined {
  const name = names.find((n) => !params.get(n));
  return name ? gateway(400, `Missing${name}`, `${name} is mandatory for this action.`) : undefined;
}

function requestId(): string {
  return randomUUID().toUpperCase();
}

function shanghai(at: number, format: string): string {
  return DateTime.fromMillis(at, { zone: ZONE }).toFormat(format);
}

/** TemplateParam: absent is no parameters; else a JSON object of strings, or null when it is not. */
function templateParams(raw: string | null): Record<string, string> | null {
  if (raw === null) return {};
  return stringRecord(parseJson(raw));
}

function paramsArray(raw: string): Record<string, string>[] | null {
  const value = parseJson(raw);
  if (!Array.isArray(value)) return null;
  const records = value.map(stringRecord);
  return records.every((r) => r !== null) ? (records as Record<string, string>[]) : null;
}

function stringArray(raw: string | null): string[] | null {
  const value = raw === null ? null : parseJson(raw);
  return Array.isArray(value) && value.every((x) => typeof x === 'string') ? value : null;
}

function stringRecord(value: unknown): Record<string, string> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return Object.values(value).every((x) => typeof x === 'string') ? (value as Record<string, string>) : null;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** The environment that points Tideline's Aliyun SMS provider at this fake. */
export function aliyunSmsEnv(fake: AliyunSmsFake): Record<string, string> {
  return {
    ALIYUN_SMS_ACCESS_KEY_ID: fake.accessKeyId,
    ALIYUN_SMS_ACCESS_KEY_SECRET: fake.accessKeySecret,
    ALIYUN_SMS_ENDPOINT: fake.endpoint,
    ALIYUN_SMS_PROTOCOL: 'http',
  };
}
