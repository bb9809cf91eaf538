/**
 * A local APNs provider API (HTTP/2 over TLS, token auth), for tests, benches and
 * dev scripts. The certificate is self-signed and made at start (clients need
 * `rejectUnauthorized: false`). It verifies the ES256 provider JWT against the p8 key, checks the
 * headers, and answers per device token suffix:
 *
 *   -unregistered  410 Unregistered (+ timestamp)   -invalid      400 BadDeviceToken
 *   -topic         400 DeviceTokenNotForTopic       -toomany      429 TooManyRequests
 *   -unavailable   503 ServiceUnavailable           -internal     500 InternalServerError
 *   -slow          accepted, answered after `slowMs`
 *
 * Any other token is accepted (real tokens are 64 hex digits; the fake takes any path segment).
 */
import { generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import {
  createSecureServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { FakeTimers } from './timers.ts';

export interface ApnsFakeOptions {
  /** The bundle id the key may push to (`apns-topic`); defaults to `com.tideline.app`. */
  topic?: string;
  /** Delay before every answer. */
  latencyMs?: number;
  /** How long `-slow` tokens wait before their answer; defaults to 2 s. */
  slowMs?: number;
}

/** A notification APNs accepted. */
export interface ApnsReceived {
  token: string;
  /** The apns-* headers of the request. */
  headers: Record<string, string>;
  payload: any;
  at: number;
}

/** A token-auth signing key as Apple hands it out: the p8 (PKCS#8 PEM), its key id, the team id. */
export interface ApnsKey {
  key: string;
  keyId: string;
  teamId: string;
}

export interface ApnsFake {
  address: string;
  port: number;
  topic: string;
  /** A key this fake trusts. */
  credentials: ApnsKey;
  received: ApnsReceived[];
  /** Requests seen (whatever their answer) and HTTP/2 sessions opened. */
  counts: { requests: number; sessions: number };
  /** The distinct provider JWTs seen, in order. */
  providerTokens: string[];
  setLatency(ms: number): void;
  /** The JWTs seen so far are refused from now on with 403 ExpiredProviderToken. */
  expireProviderTokens(): void;
  /** While on, every JWT is refused with 403 ExpiredProviderToken. */
  expireEveryProviderToken(on: boolean): void;
  close(): Promise<void>;
}

const PUSH_TYPES = [
  'alert',
  'background',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'liveactivity',
  'location',
  'pushtotalk',
  'widgets',
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A fresh P-256 signing key, with the public half that verifies its JWTs. */
export function createApnsKey(): ApnsKey & { publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    keyId: randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase(),
    teamId: randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase(),
    publicKey,
  };
}

export async function startApnsFake(options: ApnsFakeOptions = {}): Promise<ApnsFake> {
  const topic = options.topic ?? 'com.tideline.app';
  const slowMs = options.slowMs ?? 2000;
  let latencyMs = options.latencyMs ?? 0;
  const { publicKey, ...credentials } = createApnsKey();
  const received: ApnsReceived[] = [];
  const counts = { requests: 0, sessions: 0 };
  const seen = new Set<string>();
  const providerTokens: string[] = [];
  const expired = new Set<string>();
  let expireAll = false;
  const timers = new FakeTimers();
  const sessions = new Set<Http2Session>();

  function answer(stream: ServerHttp2Stream, status: number, apnsId: string, body?: object, delay = 0) {
    const respond = () => {
      if (stream.closed || stream.destroyed) return;
      stream.respond({
        ':status': status,
        'apns-id': apnsId,
        ...(body ? { 'content-type': 'application/json' } : {}),
      });
      stream.end(body ? JSON.stringify(body) : undefined);
    };
    if (latencyMs + delay <= 0) return respond();
    timers.later(latencyMs + delay, respond);
  }

  /** Why the provider JWT is refused, or null when it is good. */
  function authFailure(authorization: string | undefined): string | null {
    const jwt = /^bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (!jwt) return 'MissingProviderToken';
    if (!seen.has(jwt)) {
      seen.add(jwt);
      providerTokens.push(jwt);
    }
    const [h, c, s] = jwt.split('.');
    let header: any, claims: any;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString());
      claims = JSON.parse(Buffer.from(c, 'base64url').toString());
    } catch {
      return 'InvalidProviderToken';
    }
    const signed = verify(
      'sha256',
      Buffer.from(`${h}.${c}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(s ?? '', 'base64url'),
    );
    if (
      header.alg !== 'ES256' ||
      header.kid !== credentials.keyId ||
      claims.iss !== credentials.teamId ||
      !signed
    )
      return 'InvalidProviderToken';
    if (
      expireAll ||
      expired.has(jwt) ||
      typeof claims.iat !== 'number' ||
      claims.iat < Date.now() / 1000 - 3600
    )
      return 'ExpiredProviderToken';
    return null;
  }

  function handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer) {
    counts.requests++;
    const apnsId = typeof headers['apns-id'] === 'string' ? headers['apns-id'] : randomUUID();
    const fail = (status: number, reason: string, extra: object = {}) =>
      answer(stream, status, apnsId, { reason, ...extra });
    const path = String(headers[':path'] ?? '');
    const token = /^\/3\/device\/([^/?]+)$/.exec(path)?.[1];
    if (!token) return fail(404, 'BadPath');
    if (headers[':method'] !== 'POST') return fail(405, 'MethodNotAllowed');
    const refused = authFailure(headers.authorization);
    if (refused) return fail(403, refused);
    const apns: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers))
      if (name.startsWith('apns-') && typeof value === 'string') apns[name] = value;
    if (!apns['apns-topic']) return fail(400, 'MissingTopic');
    if (apns['apns-topic'] !== topic) return fail(400, 'TopicDisallowed');
    if (apns['apns-push-type'] !== undefined && !PUSH_TYPES.includes(apns['apns-push-type']))
      return fail(400, 'InvalidPushType');
    if (apns['apns-priority'] !== undefined && !['10', '5', '1'].includes(apns['apns-priority']))
      return fail(400, 'BadPriority');
    if (apns['apns-id'] !== undefined && !UUID.test(apns['apns-id'])) return fail(400, 'BadMessageId');
    if (apns['apns-collapse-id'] !== undefined && Buffer.byteLength(apns['apns-collapse-id']) > 64)
      return fail(400, 'BadCollapseId');
    if (apns['apns-expiration'] !== undefined && !/^\d+$/.test(apns['apns-expiration']))
      return fail(400, 'BadExpirationDate');
    if (body.length === 0) return fail(400, 'PayloadEmpty');
    if (body.length > 4096) return fail(413, 'PayloadTooLarge');
    switch (/-([a-z]+)$/.exec(token)?.[1]) {
      case 'unregistered':
        return fail(410, 'Unregistered', { timestamp: Date.now() - 86_400_000 });
      case 'invalid':
        return fail(400, 'BadDeviceToken');
      case 'topic':
        return fail(400, 'DeviceTokenNotForTopic');
      case 'toomany':
        return fail(429, 'TooManyRequests');
      case 'unavailable':
        return fail(503, 'ServiceUnavailable');
      case 'internal':
        return fail(500, 'InternalServerError');
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString());
    } catch {
      return fail(400, 'PayloadEmpty');
    }
    received.push({ token, headers: apns, payload, at: Date.now() });
    answer(stream, 200, apnsId, undefined, token.endsWith('-slow') ? slowMs : 0);
  }

  const server = createSecureServer(selfSignedCertificate());
  server.on('session', (session) => {
    counts.sessions++;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => handle(stream, headers, Buffer.concat(chunks)));
    stream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    address: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    topic,
    credentials,
    received,
    counts,
    providerTokens,
    setLatency: (ms) => (latencyMs = ms),
    expireProviderTokens: () => seen.forEach((jwt) => expired.add(jwt)),
    expireEveryProviderToken: (on) => (expireAll = on),
    close: () =>
      new Promise<void>((resolve) => {
        timers.clear();
        server.close(() => resolve());
        sessions.forEach((session) => session.destroy());
      }),
  };
}

/**
 * A self-signed P-256 certificate for 127.0.0.1, built as DER with node:crypto so the fake needs no
 * openssl binary. Minimal X.509 v3: no extensions (clients skip verification anyway).
 */
function selfSignedCertificate(): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = (tag: number, ...parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    const n = body.length;
    const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
    return Buffer.concat([Buffer.from([tag, ...length]), body]);
  };
  const hex = (s: string) => Buffer.from(s, 'hex');
  const ecdsaWithSha256 = der(0x30, hex('06082a8648ce3d040302'));
  const name = der(0x31, der(0x30, hex('0603550403'), der(0x0c, Buffer.from('127.0.0.1'))));
  const utcTime = (ms: number) =>
    der(0x17, Buffer.from(new Date(ms).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));
  const tbs = der(
    0x30,
    der(0xa0, der(0x02, hex('02'))), // version 3
    der(0x02, hex('01')), // serial number
    ecdsaWithSha256,
    der(0x30, name), // issuer
    der(0x30, utcTime(Date.now() - 3_600_000), utcTime(Date.now() + 30 * 86_400_000)),
    der(0x30, name), // subject
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = der(0x30, tbs, ecdsaWithSha256, der(0x03, hex('00'), signature));
  const lines = certificate
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`,
  };
}
