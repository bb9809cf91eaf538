/**
 * A local FCM HTTP v1 endpoint and Google token endpoint, for tests, benches and
 * dev scripts. It verifies the service account's JWT assertion, checks the Bearer token on each
 * send, and answers per device token suffix:
 *
 *   -unregistered  404 UNREGISTERED         -invalid      400 INVALID_ARGUMENT (registration token)
 *   -mismatch      403 SENDER_ID_MISMATCH   -quota        429 QUOTA_EXCEEDED + Retry-After
 *   -unavailable   503 UNAVAILABLE + Retry-After            -internal     500 INTERNAL
 *   -thirdparty    401 THIRD_PARTY_AUTH_ERROR               -slow         accepted, answered after `slowMs`
 *
 * Any other token is accepted. Reserved data keys and messages over 4096 bytes get 400 INVALID_ARGUMENT.
 */
import { generateKeyPairSync, randomUUID, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceAccount } from '../../channels/fcm/service-account.ts';
import { FakeTimers } from './timers.ts';

export interface FcmFakeOptions {
  /** Defaults to `tideline-test`. */
  projectId?: string;
  /** Delay before every answer. */
  latencyMs?: number;
  /** How long `-slow` tokens wait before their answer; defaults to 2 s. */
  slowMs?: number;
  /** Retry-After of `-quota` and `-unavailable`, in seconds; defaults to 30. */
  retryAfterSeconds?: number;
  /** `expires_in` of granted access tokens; defaults to 3599. */
  accessTokenTtlSeconds?: number;
}

/** A message FCM accepted. */
export interface FcmReceived {
  projectId: string;
  message: Record<string, any>;
  name: string;
  at: number;
}

export interface FcmFake {
  /** Base URL of the send API (the client's `baseUrl`). */
  url: string;
  /** The token endpoint (the service account's `token_uri`). */
  tokenUri: string;
  /** A service account whose key this fake trusts, with `token_uri` pointing at it. */
  serviceAccount: ServiceAccount;
  received: FcmReceived[];
  /** Requests seen, whatever their answer, and TCP connections opened. */
  counts: { tokenGrants: number; sends: number; connections: number };
  setLatency(ms: number): void;
  /** Access tokens granted so far are refused from now on (401 UNAUTHENTICATED). */
  revokeAccessTokens(): void;
  /** While on, every send is refused with 401 UNAUTHENTICATED, whatever its token. */
  refuseAllAccessTokens(on: boolean): void;
  close(): Promise<void>;
}

const SCOPES = [
  'https://www.googleapis.com/auth/firebase.messaging',
  'https://www.googleapis.com/auth/cloud-platform',
];
const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';

/** A service account with a fresh RSA key; `publicKey` verifies its assertions. */
export function createServiceAccount(
  tokenUri: string,
  projectId = 'tideline-test',
): { serviceAccount: ServiceAccount; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey,
    serviceAccount: {
      project_id: projectId,
      private_key_id: randomUUID().replace(/-/g, ''),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: `tideline@${projectId}.iam.gserviceaccount.com`,
      token_uri: tokenUri,
    },
  };
}

export async function startFcmFake(options: FcmFakeOptions = {}): Promise<FcmFake> {
  const projectId = options.projectId ?? 'tideline-test';
  const slowMs = options.slowMs ?? 2000;
  const retryAfter = String(options.retryAfterSeconds ?? 30);
  const ttlSeconds = options.accessTokenTtlSeconds ?? 3599;
  let latencyMs = options.latencyMs ?? 0;
  let refuseAll = false;
  const accessTokens = new Map<string, number>(); // token → expiry (ms)
  const revoked = new Set<string>();
  const timers = new FakeTimers();
  const received: FcmReceived[] = [];
  const counts = { tokenGrants: 0, sends: 0, connections: 0 };
  // token_uri is known once the server listens.
  const { serviceAccount: account, publicKey } = createServiceAccount('', projectId);
  let tokenUri = '';

  const later = (ms: number, fn: () => void) => (ms <= 0 ? fn() : timers.later(ms, fn));
  const answer = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    delay = 0,
  ) =>
    later(latencyMs + delay, () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
      res.end(JSON.stringify(body));
    });
  const rpcError = (
    res: ServerResponse,
    httpCode: number,
    status: string,
    message: string,
    errorCode?: string,
    extra: object[] = [],
    headers: Record<string, string> = {},
  ) =>
    answer(
      res,
      httpCode,
      {
        error: {
          code: httpCode,
          message,
          status,
          ...(errorCode ? { details: [{ '@type': FCM_ERROR, errorCode }, ...extra] } : {}),
        },
      },
      headers,
    );

  function grant(form: URLSearchParams, res: ServerResponse) {
    counts.tokenGrants++;
    const invalid = (error: string, description: string) =>
      answer(res, 400, { error, error_description: description });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return invalid('unsupported_grant_type', 'Invalid grant_type: ' + form.get('grant_type'));
    const [h, c, s] = (form.get('assertion') ?? '').split('.');
    let header: any, claims: any;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString());
      claims = JSON.parse(Buffer.from(c, 'base64url').toString());
    } catch {
      return invalid('invalid_grant', 'Invalid JWT: bad encoding');
    }
    if (claims.iss !== account.client_email)
      return invalid('invalid_grant', 'Invalid grant: account not found');
    if (header.alg !== 'RS256' || header.kid !== account.private_key_id || !s)
      return invalid('invalid_grant', 'Invalid JWT Signature.');
    if (!verify('sha256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url')))
      return invalid('invalid_grant', 'Invalid JWT Signature.');
    if (claims.aud !== tokenUri) return invalid('invalid_grant', 'Invalid JWT: Failed audience check.');
    if (
      !String(claims.scope ?? '')
        .split(' ')
        .some((x) => SCOPES.includes(x))
    )
      return invalid('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const now = Date.now() / 1000;
    if (
      typeof claims.iat !== 'number' ||
      typeof claims.exp !== 'number' ||
      claims.exp - claims.iat > 3600 ||
      claims.exp < now
    )
      return invalid(
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    const token = `ya29.fake-${counts.tokenGrants}-${randomUUID()}`;
    accessTokens.set(token, Date.now() + ttlSeconds * 1000);
    answer(res, 200, { access_token: token, expires_in: ttlSeconds, token_type: 'Bearer' });
  }

  function send(
    project: string,
    authorization: string | undefined,
    body: any,
    size: number,
    res: ServerResponse,
  ) {
    counts.sends++;
    const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1] ?? '';
    const expiry = accessTokens.get(bearer);
    if (refuseAll || expiry === undefined || expiry < Date.now() || revoked.has(bearer))
      return rpcError(
        res,
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      );
    if (project !== projectId)
      return rpcError(
        res,
        403,
        'PERMISSION_DENIED',
        `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`,
      );
    const message = body?.message;
    if (typeof message !== 'object' || message === null)
      return rpcError(
        res,
        400,
        'INVALID_ARGUMENT',
        'Request contains an invalid argument.',
        'INVALID_ARGUMENT',
      );
    if (typeof message.token !== 'string' || message.token === '')
      return rpcError(
        res,
        400,
        'INVALID_ARGUMENT',
        'Recipient of the message is not set.',
        'INVALID_ARGUMENT',
      );
    for (const [key, value] of Object.entries(message.data ?? {}))
      if (typeof value !== 'string' || /^(from|notification|message_type)$|^(google|gcm)/.test(key))
        return rpcError(
          res,
          400,
          'INVALID_ARGUMENT',
          `Invalid data payload key: ${key}`,
          'INVALID_ARGUMENT',
          [
            {
              '@type': BAD_REQUEST,
              fieldViolations: [{ field: 'message.data', description: `Invalid data payload key: ${key}` }],
            },
          ],
        );
    if (size > 4096) return rpcError(res, 400, 'INVALID_ARGUMENT', 'Message is too big', 'INVALID_ARGUMENT');
    const ttl = message.android?.ttl;
    if (ttl !== undefined && !/^\d+(\.\d{1,9})?s$/.test(ttl))
      return rpcError(
        res,
        400,
        'INVALID_ARGUMENT',
        `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', Illegal duration format; duration must end with 's'`,
        'INVALID_ARGUMENT',
      );
    const wait = { 'retry-after': retryAfter };
    switch (/-([a-z]+)$/.exec(message.token)?.[1]) {
      case 'unregistered':
        return rpcError(res, 404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED');
      case 'invalid':
        return rpcError(
          res,
          400,
          'INVALID_ARGUMENT',
          'The registration token is not a valid FCM registration token',
          'INVALID_ARGUMENT',
        );
      case 'mismatch':
        return rpcError(res, 403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH');
      case 'quota':
        return rpcError(
          res,
          429,
          'RESOURCE_EXHAUSTED',
          'Quota exceeded for quota metric ... of service fcm.googleapis.com',
          'QUOTA_EXCEEDED',
          [],
          wait,
        );
      case 'unavailable':
        return rpcError(
          res,
          503,
          'UNAVAILABLE',
          'The service is currently unavailable.',
          'UNAVAILABLE',
          [],
          wait,
        );
      case 'internal':
        return rpcError(res, 500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL');
      case 'thirdparty':
        return rpcError(
          res,
          401,
          'UNAUTHENTICATED',
          'Auth error from APNS or Web Push Service',
          'THIRD_PARTY_AUTH_ERROR',
        );
    }
    const name = `projects/${project}/messages/0:${Date.now()}%${randomUUID().slice(0, 16)}`;
    received.push({ projectId: project, message, name, at: Date.now() });
    answer(res, 200, { name }, {}, message.token.endsWith('-slow') ? slowMs : 0);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/token') return grant(new URLSearchParams(raw.toString()), res);
      const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
      if (req.method !== 'POST' || !match)
        return rpcError(res, 404, 'NOT_FOUND', `The requested URL ${path} was not found on this server.`);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString());
      } catch {
        return rpcError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
      }
      send(decodeURIComponent(match[1]), req.headers.authorization, body, raw.length, res);
    });
  });
  server.on('connection', () => counts.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tokenUri = `${url}/token`;
  account.token_uri = tokenUri;

  return {
    url,
    tokenUri,
    serviceAccount: account,
    received,
    counts,
    setLatency: (ms) => (latencyMs = ms),
    revokeAccessTokens: () => accessTokens.forEach((_, token) => revoked.add(token)),
    refuseAllAccessTokens: (on) => (refuseAll = on),
    close: () =>
      new Promise<void>((resolve) => {
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
