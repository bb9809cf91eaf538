/**
 * A local JPush REST API v3 push endpoint, for tests, benches and dev scripts. It
 * checks Basic auth and the push object's shape, keeps a rate window (X-Rate-Limit-* headers on
 * every answer, 429 code 2002 past the quota), and answers per (first) registration id suffix:
 *
 *   -unregistered  400 1011 (no such user)      -invalid      400 1003 (bad registration_id)
 *   -bigpush       400 1012                     -volume       403 2005
 *   -restricted    403 2003                     -internal     500 1000
 *   -unavailable   503 1030                     -slow         accepted, answered after `slowMs`
 *
 * Any other registration id is accepted.
 */
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeTimers } from './timers.ts';

export interface JpushFakeOptions {
  appKey?: string;
  masterSecret?: string;
  /** Delay before every answer. */
  latencyMs?: number;
  /** How long `-slow` registration ids wait before their answer; defaults to 2 s. */
  slowMs?: number;
  /** Push requests allowed per rate window; defaults to 600 (the free tier, per minute). */
  rateLimitQuota?: number;
  /** Defaults to 60. */
  rateWindowSeconds?: number;
}

/** A push JPush accepted. */
export interface JpushReceived {
  push: any;
  msgId: string;
  at: number;
}

export interface JpushFake {
  url: string;
  appKey: string;
  masterSecret: string;
  received: JpushReceived[];
  /** Requests seen (whatever their answer) and TCP connections opened. */
  counts: { requests: number; connections: number };
  setLatency(ms: number): void;
  close(): Promise<void>;
}

const TOP_LEVEL = new Set([
  'platform',
  'audience',
  'notification',
  'message',
  'options',
  'cid',
  'sms_message',
  'inapp_message',
]);
const PLATFORMS = new Set(['android', 'ios', 'hmos', 'quickapp']);

export async function startJpushFake(options: JpushFakeOptions = {}): Promise<JpushFake> {
  const appKey = options.appKey ?? 'a1b2c3d4e5f6a7b8c9d0e1f2';
  const masterSecret = options.masterSecret ?? 'f0e1d2c3b4a5968778695a4b';
  const slowMs = options.slowMs ?? 2000;
  const quota = options.rateLimitQuota ?? 600;
  const windowMs = (options.rateWindowSeconds ?? 60) * 1000;
  let latencyMs = options.latencyMs ?? 0;
  let window = { start: Date.now(), used: 0 };
  const received: JpushReceived[] = [];
  const counts = { requests: 0, connections: 0 };
  const timers = new FakeTimers();

  function answer(
    res: ServerResponse,
    status: number,
    body: object,
    headers: Record<string, string> = {},
    delay = 0,
  ) {
    const respond = () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (latencyMs + delay <= 0) return respond();
    timers.later(latencyMs + delay, respond);
  }

  /** Counts the request in the current window; the X-Rate-Limit-* headers, and whether it is over quota. */
  function rateLimit(): { headers: Record<string, string>; over: boolean } {
    const now = Date.now();
    if (now - window.start >= windowMs) window = { start: now, used: 0 };
    window.used++;
    const headers = {
      'x-rate-limit-quota': String(quota),
      'x-rate-limit-remaining': String(Math.max(0, quota - window.used)),
      'x-rate-limit-reset': String(Math.ceil((window.start + windowMs - now) / 1000)),
    };
    return { headers, over: window.used > quota };
  }

  /** Why the push object is refused (JPush code and message), or null. */
  function invalid(push: any, size: number): [number, string] | null {
    if (typeof push !== 'object' || push === null) return [1003, 'Invalid push object'];
    for (const key of Object.keys(push))
      if (!TOP_LEVEL.has(key)) return [1009, `Unsupported key in push object: ${key}`];
    const { platform, audience, notification, message, options: opts } = push;
    if (platform === undefined || audience === undefined) return [1002, 'platform and audience are required'];
    if (
      platform !== 'all' &&
      !(Array.isArray(platform) && platform.length > 0 && platform.every((p) => PLATFORMS.has(p)))
    )
      return [1003, 'platform value is invalid'];
    const ids = audience?.registration_id;
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > 1000 ||
      !ids.every((id) => typeof id === 'string' && id !== '')
    )
      return [1003, 'audience value is invalid'];
    if (notification === undefined && message === undefined)
      return [1002, 'notification or message is required'];
    if (notification?.android && typeof notification.android.alert !== 'string')
      return [1003, 'android alert is required'];
    if (notification?.ios && notification.ios.alert === undefined) return [1003, 'ios alert is required'];
    if (opts !== undefined) {
      if (opts.sendno !== undefined && (!Number.isInteger(opts.sendno) || opts.sendno === 0))
        return [1003, 'sendno value is invalid'];
      if (
        opts.time_to_live !== undefined &&
        !(Number.isInteger(opts.time_to_live) && opts.time_to_live >= 0 && opts.time_to_live <= 864_000)
      )
        return [1003, 'time_to_live value is invalid, the max value is 864000'];
      if (opts.apns_production !== undefined && typeof opts.apns_production !== 'boolean')
        return [1003, 'apns_production value is invalid'];
      if (opts.apns_collapse_id !== undefined && Buffer.byteLength(String(opts.apns_collapse_id)) > 64)
        return [1003, 'apns_collapse_id value is invalid'];
    }
    if (notification?.ios && Buffer.byteLength(JSON.stringify(notification.ios)) > 2000)
      return [1005, 'Msg content too long'];
    if (size > 4000) return [1005, 'Msg content too long'];
    return null;
  }

  function push(req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    counts.requests++;
    const fail = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
      answer(res, status, { error: { code, message } }, headers);
    if (req.url !== '/v3/push') return fail(404, 1020, 'Not found');
    if (req.method !== 'POST') return fail(405, 1001, 'Only POST method is supported');
    const [key, secret] = Buffer.from(
      /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '',
      'base64',
    )
      .toString()
      .split(':');
    if (key !== appKey) return fail(400, 1008, 'app_key is invalid');
    if (secret !== masterSecret) return fail(401, 1004, 'Basic authentication failed');
    const rate = rateLimit();
    if (rate.over) return fail(429, 2002, 'Request times of API exceed the limit', rate.headers);
    let body: any;
    try {
      body = JSON.parse(raw.toString());
    } catch {
      return fail(400, 1003, 'Request body is not valid JSON', rate.headers);
    }
    const refused = invalid(body, raw.length);
    if (refused) return fail(400, refused[0], refused[1], rate.headers);
    const msgId = String(randomInt(2 ** 47, 2 ** 48));
    const outcomes: Record<string, [number, number, string]> = {
      unregistered: [
        400,
        1011,
        'cannot find user by this audience or has been inactive for more than 255 days',
      ],
      invalid: [400, 1003, 'registration_id value is invalid'],
      bigpush: [400, 1012, 'big_push_duration exceeds the limit'],
      volume: [403, 2005, 'Push volume is unreasonable for the target'],
      restricted: [403, 2003, 'The appkey is restricted'],
      internal: [500, 1000, 'Server internal error'],
      unavailable: [503, 1030, 'Internal service timeout'],
    };
    const outcome = outcomes[/-([a-z]+)$/.exec(body.audience.registration_id[0])?.[1] ?? ''];
    if (outcome)
      return answer(
        res,
        outcome[0],
        { error: { code: outcome[1], message: outcome[2] }, msg_id: msgId },
        rate.headers,
      );
    received.push({ push: body, msgId, at: Date.now() });
    const slow = body.audience.registration_id[0].endsWith('-slow');
    answer(
      res,
      200,
      { sendno: String(body.options?.sendno ?? 0), msg_id: msgId },
      rate.headers,
      slow ? slowMs : 0,
    );
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => push(req, Buffer.concat(chunks), res));
  });
  server.on('connection', () => counts.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    appKey,
    masterSecret,
    received,
    counts,
    setLatency: (ms) => (latencyMs = ms),
    close: () =>
      new Promise<void>((resolve) => {
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
