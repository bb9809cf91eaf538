/**
 * The HTTP client of the channel adapters: one POST, sorted by what a failure means for a send (it
 * never left, or it may have been executed). Over node:http(s) with one keep-alive agent per
 * protocol rather than `fetch`: in Node 20 fetch spends several times the CPU per request (web
 * streams), which kept one process well under the 3,000 sends/s a channel needs.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { ProviderResult } from './provider.ts';

export interface PostOptions {
  /** Request headers (authorization, content-type...); content-length is added. */
  headers: Record<string, string>;
  body: string;
  /** Covers connecting, sending and reading the answer. */
  timeoutMs: number;
}

/** The server answered (any status). Header names are lower case. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** No answer. */
export interface HttpFailure {
  /**
   * `unsent`: failed before the connection was up (refused, unresolvable, TLS): safe to send again.
   * `lost`: timed out or lost the connection after it was up: the server may have executed it.
   */
  kind: 'unsent' | 'lost';
  /** `ECONNREFUSED`, `TIMEOUT`, `ECONNRESET`... */
  code: string;
  detail: string;
}

export type HttpOutcome = ({ kind: 'answer' } & HttpAnswer) | HttpFailure;

/**
 * Idle connections kept for reuse (enough for ~3,000 requests/s at 100 ms latency), each closed
 * after 4 s idle or before the server's `Keep-Alive: timeout` hint: a request written on a
 * connection the server is closing would be lost (UNKNOWN).
 */
const POOL = { keepAlive: true, maxFreeSockets: 1024, timeout: 4000 };
const httpAgent = new HttpAgent(POOL);
const httpsAgent = new HttpsAgent(POOL);

/** POSTs `body` to `url`; never rejects. */
export function post(url: string, { headers, body, timeoutMs }: PostOptions): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    // Nothing can have been written before the connection (TLS included) is up.
    let connected = false;
    let request: ClientRequest | undefined;
    // The first outcome wins: resolve ignores the later ones (the error of a destroyed request...).
    const settle = (outcome: HttpOutcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    const fail = (code: string, detail: string) =>
      settle({ kind: connected ? 'lost' : 'unsent', code, detail });
    const timer = setTimeout(() => {
      fail(connected ? 'TIMEOUT' : 'CONNECT_TIMEOUT', `no answer within ${timeoutMs} ms`);
      request?.destroy();
    }, timeoutMs);

    const onResponse = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        settle({
          kind: 'answer',
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      response.on('close', () => {
        if (!response.complete) fail('ECONNRESET', 'connection lost while reading the answer');
      });
    };
    let secure = false;
    const payload = Buffer.from(body);
    try {
      const target = new URL(url);
      secure = target.protocol === 'https:';
      request = (secure ? httpsRequest : httpRequest)(
        target,
        {
          method: 'POST',
          agent: secure ? httpsAgent : httpAgent,
          headers: { ...headers, 'content-length': payload.length },
        },
        onResponse,
      );
    } catch (error) {
      // An invalid URL or header: refused before anything was sent.
      return fail(errorCode(error), error instanceof Error ? error.message : String(error));
    }
    request.on('socket', (socket: Socket) => {
      // A pooled connection is up already.
      if (!socket.connecting) connected = true;
      else socket.once(secure ? 'secureConnect' : 'connect', () => (connected = true));
    });
    request.on('error', (error) => fail(errorCode(error), error.message));
    request.end(payload);
  });
}

/** What a request without an answer means for a send: RETRY when it never left, else UNKNOWN. */
export function unanswered({ kind, code, detail }: HttpFailure): ProviderResult {
  return { class: kind === 'unsent' ? 'RETRY' : 'UNKNOWN', code, detail };
}

/** An answer's body parsed as JSON, or its text when it is not JSON. */
export function jsonBody(answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.text);
  } catch {
    return answer.text;
  }
}

/** A JSON value as an object to read fields from ({} when it is not an object). */
export function jsonObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function errorCode(error: unknown): string {
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'TRANSPORT';
}
