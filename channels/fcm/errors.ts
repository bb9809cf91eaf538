import { jsonBody, jsonObject, type HttpAnswer } from '../http.ts';
import type { ProviderResult } from '../provider.ts';
import { deleteToken } from '../push/delete-token.ts';
import { retryAfterMs } from '../push/retry-after.ts';

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';

/** Google recommends waiting at least a minute after a quota answer without Retry-After. */
export const QUOTA_DEFAULT_WAIT_MS = 60_000;

interface RpcDetail {
  '@type'?: unknown;
  errorCode?: unknown;
  fieldViolations?: unknown;
}

/** The google.rpc.Status of an error answer, with the fields read here type-checked. */
interface RpcStatus {
  message?: string;
  status?: string;
  details: RpcDetail[];
}

/**
 * Classifies a non-200 answer of `messages:send`: the FcmError detail's
 * `errorCode` when present (as firebase-admin does), else the google.rpc.Status `status`, else the
 * HTTP status.
 */
export function classifyFcmError(answer: HttpAnswer): ProviderResult {
  const body = jsonBody(answer);
  const error = rpcStatus(body);
  const fcmCode = error.details.find((d) => d['@type'] === FCM_ERROR_TYPE)?.errorCode;
  const code = (typeof fcmCode === 'string' ? fcmCode : error.status) ?? `HTTP_${answer.status}`;
  const detail = error.message ?? (typeof body === 'string' ? body.slice(0, 200) : undefined);
  const wait = retryAfterMs(answer.headers['retry-after']);
  const base = { code, ...(detail ? { detail } : {}) };
  switch (code) {
    case 'UNREGISTERED':
    case 'SENDER_ID_MISMATCH':
      return deleteToken(code, detail);
    case 'INVALID_ARGUMENT':
      return aboutToken(error) ? deleteToken(code, detail) : { class: 'PERM_MESSAGE', ...base };
    case 'QUOTA_EXCEEDED':
    case 'RESOURCE_EXHAUSTED':
      return { class: 'RETRY_LATER', ...base, retryAfterMs: wait ?? QUOTA_DEFAULT_WAIT_MS };
    case 'UNAVAILABLE':
    case 'INTERNAL':
      return { class: 'RETRY', ...base, ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
    case 'THIRD_PARTY_AUTH_ERROR':
    case 'PERMISSION_DENIED':
      return { class: 'PERM_CONFIG', ...base };
    // Only the front-end's own 401 (no FcmError detail) means our access token was refused.
    case 'UNAUTHENTICATED':
      return { class: 'REFRESH_TOKEN', ...base };
  }
  if (answer.status === 429)
    return { class: 'RETRY_LATER', ...base, retryAfterMs: wait ?? QUOTA_DEFAULT_WAIT_MS };
  if (answer.status >= 500 || answer.status === 408)
    return { class: 'RETRY', ...base, ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
  if (answer.status === 400) return { class: 'PERM_MESSAGE', ...base };
  // 401 without UNAUTHENTICATED, 403, 404 (unknown project), 405...: the setup is wrong.
  return { class: 'PERM_CONFIG', ...base };
}

function rpcStatus(body: unknown): RpcStatus {
  const error = jsonObject(jsonObject(body).error);
  return {
    ...(typeof error.message === 'string' ? { message: error.message } : {}),
    ...(typeof error.status === 'string' ? { status: error.status } : {}),
    details: Array.isArray(error.details) ? error.details.map((d) => jsonObject(d)) : [],
  };
}

/** INVALID_ARGUMENT is about the recipient when it names the registration token (message or field). */
function aboutToken(error: RpcStatus): boolean {
  if (/registration token/i.test(error.message ?? '')) return true;
  return error.details.some(
    (d) =>
      d['@type'] === BAD_REQUEST_TYPE &&
      Array.isArray(d.fieldViolations) &&
      d.fieldViolations.some((v) => jsonObject(v).field === 'message.token'),
  );
}
