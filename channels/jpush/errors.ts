import { jsonBody, jsonObject, type HttpAnswer } from '../http.ts';
import type { ProviderResult } from '../provider.ts';
import { deleteToken } from '../push/delete-token.ts';

const RETRY = new Set([1000, 1030]);
const RETRY_LATER = new Set([1012, 2002, 2005]);
const PERM_MESSAGE = new Set([1002, 1003, 1005, 1009]);
const PERM_CONFIG = new Set([1001, 1004, 1008, 1020, 2003, 2004, 2006, 2007]);

/** Classifies a `/v3/push` answer: `error.code` first, else the HTTP status. */
export function classifyJpushAnswer(answer: HttpAnswer): ProviderResult {
  const body = jsonObject(jsonBody(answer));
  if (answer.status === 200)
    return { class: 'OK', ...(body.msg_id !== undefined ? { providerId: String(body.msg_id) } : {}) };
  const error = jsonObject(body.error);
  const number = typeof error.code === 'number' ? error.code : undefined;
  const code = number !== undefined ? String(number) : `HTTP_${answer.status}`;
  const detail = typeof error.message === 'string' ? error.message : undefined;
  const base = { code, ...(detail ? { detail } : {}) };
  // 1003 is any bad value; only a malformed registration id is about the recipient.
  if (number === 1011 || (number === 1003 && /registration_id/i.test(detail ?? '')))
    return deleteToken(code, detail);
  if (number === 2002 || answer.status === 429)
    return { class: 'RETRY_LATER', ...base, ...rateLimitReset(answer) };
  if (number !== undefined) {
    if (RETRY.has(number)) return { class: 'RETRY', ...base };
    if (RETRY_LATER.has(number)) return { class: 'RETRY_LATER', ...base };
    if (PERM_MESSAGE.has(number)) return { class: 'PERM_MESSAGE', ...base };
    if (PERM_CONFIG.has(number)) return { class: 'PERM_CONFIG', ...base };
  }
  if (answer.status >= 500) return { class: 'RETRY', ...base };
  if (answer.status === 400) return { class: 'PERM_MESSAGE', ...base };
  return { class: 'PERM_CONFIG', ...base };
}

/** X-Rate-Limit-Reset: seconds left in the current rate window. */
function rateLimitReset(answer: HttpAnswer): { retryAfterMs?: number } {
  const header = answer.headers['x-rate-limit-reset'];
  const seconds = Number(header);
  return typeof header === 'string' && header !== '' && Number.isFinite(seconds) && seconds >= 0
    ? { retryAfterMs: seconds * 1000 }
    : {};
}
