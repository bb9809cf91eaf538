import type { ResponseFailure } from '@parse/node-apn';
import type { ProviderResult } from '../provider.ts';
import { deleteToken } from '../push/delete-token.ts';

const DEAD_TOKEN = new Set([
  'BadDeviceToken',
  'DeviceTokenNotForTopic',
  'MissingDeviceToken',
  'Unregistered',
  'ExpiredToken',
]);
const BAD_TOPIC = new Set(['BadTopic', 'TopicDisallowed', 'MissingTopic']);

/**
 * Classifies one `failed[]` entry of node-apn. Entries with a status are APNs'
 * answers (`response.reason`, or the reason node-apn moved into `error` for 403
 * ExpiredProviderToken and 500); entries without one never got an answer.
 */
export function classifyApnsFailure(failure: ResponseFailure): ProviderResult {
  const { status } = failure;
  if (status === undefined) {
    // node-apn's own timeout: the request went out, APNs may have taken it.
    if (failure.error?.message === 'apn write timeout') return { class: 'UNKNOWN', code: 'TIMEOUT' };
    return transportFailure(failure.error);
  }
  const reason =
    failure.response?.reason ?? (status === 500 ? 'InternalServerError' : failure.error?.message);
  const code = reason ?? `HTTP_${status}`;
  if (DEAD_TOKEN.has(code)) {
    // 410: the token is dead since `timestamp`, unless the device registered again after it.
    const since = failure.response?.timestamp;
    return deleteToken(code, since ? `invalid since ${new Date(Number(since)).toISOString()}` : undefined);
  }
  if (code === 'ExpiredProviderToken') return { class: 'REFRESH_TOKEN', code };
  if (BAD_TOPIC.has(code)) return { class: 'PERM_CONFIG', code };
  if (status === 429) return { class: 'RETRY_LATER', code };
  if (status >= 500) return { class: 'RETRY', code };
  if (status === 400 || status === 413) return { class: 'PERM_MESSAGE', code };
  // 403 (InvalidProviderToken, BadCertificate...), 404 BadPath, 405 MethodNotAllowed.
  return { class: 'PERM_CONFIG', code };
}

/** Failures to connect: the request never left, so sending it again cannot duplicate it. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Classifies a push that got no answer: RETRY when it never reached APNs, else UNKNOWN (a timeout
 * or a reset after sending: APNs may have taken it).
 */
function transportFailure(error: unknown): ProviderResult {
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (NOT_SENT.has(code)) return { class: 'RETRY', code, detail };
  return { class: 'UNKNOWN', code, detail };
}

/** The most specific code in an error's cause chain (`ECONNREFUSED`, `TIMEOUT`...). */
function errorCode(error: unknown): string {
  let code = 'TRANSPORT';
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; depth++) {
    if (e.name === 'TimeoutError') return 'TIMEOUT';
    const { code: own, cause } = e as Error & { code?: unknown };
    if (typeof own === 'string') code = own;
    // VError (node-apn) exposes its cause as a method.
    e = typeof cause === 'function' ? (cause as () => unknown).call(e) : cause;
  }
  return code;
}
