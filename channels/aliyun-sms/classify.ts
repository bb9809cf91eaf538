/**
 * What Aliyun's answers mean for the engine. Business codes arrive in an
 * HTTP 200 body; gateway codes as errors thrown by the SDK (ClientError, ServerError,
 * ThrottlingError), matched on `name` / `code` because duplicate SDK copies break `instanceof`.
 */
import type { ProviderResult } from '../provider.ts';
import { nextPeriodStart } from './shanghai.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The body of a SendSms / SendBatchSms answer, as the SDK maps it. */
export interface SendAnswer {
  code?: string;
  message?: string;
  bizId?: string;
}

const CONFIG_CODES = new Set([
  'isv.SMS_TEMPLATE_ILLEGAL',
  'isv.SMS_SIGNATURE_ILLEGAL',
  'isv.SIGN_NAME_ILLEGAL',
  'isv.SMS_SIGN_ILLEGAL',
  'isv.SIGN_STATE_ILLEGAL',
  'isv.SMS_SIGNATURE_SCENE_ILLEGAL',
  'isv.EXTEND_CODE_ERROR',
  'isv.DENY_IP_RANGE',
  'isv.AMOUNT_NOT_ENOUGH',
  'isv.OUT_OF_SERVICE',
  'isv.PRODUCT_UN_SUBSCRIPT',
  'isv.PRODUCT_UNSUBSCRIBE',
  'isv.ACCOUNT_NOT_EXISTS',
  'isv.ACCOUNT_ABNORMAL',
  'isp.RAM_PERMISSION_DENY',
]);

/** The number itself can never receive this SMS (international numbers: PHONE_NUMBER_ILLEGAL). */
const RECIPIENT_CODES = new Set([
  'isv.MOBILE_NUMBER_ILLEGAL',
  'isv.PHONE_NUMBER_ILLEGAL',
  'isv.NOT_SUPPORTED_COUNTRY',
]);

/** Platform faults: SendSms is not idempotent, so the message may have gone out anyway. */
const PLATFORM_CODES = new Set(['isp.SYSTEM_ERROR', 'isp.GATEWAY_ERROR', 'isp.UNKNOWN']);

const GATEWAY_CONFIG_CODES = new Set([
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingParameter',
  'InvalidVersion',
  'InvalidAction.NotFound',
  // The clock is off: fix NTP, retrying will not help.
  'InvalidTimeStamp.Expired',
  // Raised by the SDK itself when it has no credentials to sign with.
  'InvalidCredentials',
]);

/** The connection was never made, so nothing was sent. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Classifies an answer that came back with HTTP 200 (`now` dates the day and month windows). */
export function classifyAnswer(answer: SendAnswer, now: number): ProviderResult {
  const code = answer.code ?? '';
  const detail = redact(answer.message ?? '');
  if (code === 'OK')
    return { class: 'OK', ...(answer.bizId ? { providerId: answer.bizId } : {}), code, detail };
  // Taken or not, we cannot tell from a body without a Code.
  if (code === '') return { class: 'UNKNOWN', detail: detail || 'an answer without a Code' };
  const result = { code, detail };
  if (code === 'isv.BUSINESS_LIMIT_CONTROL')
    return { class: 'RETRY_LATER', retryAfterMs: flowControlWindow(detail), ...result };
  if (code === 'isv.DAY_LIMIT_CONTROL')
    return { class: 'RETRY_LATER', retryAfterMs: nextPeriodStart(now, 'day') - now, ...result };
  if (code === 'isv.MONTH_LIMIT_CONTROL')
    return { class: 'RETRY_LATER', retryAfterMs: nextPeriodStart(now, 'month') - now, ...result };
  if (PLATFORM_CODES.has(code)) return { class: 'UNKNOWN', ...result };
  if (CONFIG_CODES.has(code)) return { class: 'PERM_CONFIG', ...result };
  if (RECIPIENT_CODES.has(code)) return { class: 'PERM_RECIPIENT', ...result };
  // Content and parameter codes (TEMPLATE_MISSING_PARAMETERS, INVALID_JSON_PARAM, SMS_CONTENT_ILLEGAL,
  // MOBILE_COUNT_OVER_LIMIT...) and every code we do not know: fail this message, keep the recipient
  // and the channel.
  return { class: 'PERM_MESSAGE', ...result };
}

/**
 * The per-number flow control window, from Message (`触发分钟级流控Permits:1`). Without one we
 * wait an hour: longer than the minute window, shorter than dropping the message for a day.
 */
function flowControlWindow(message: string): number {
  if (message.includes('分钟级')) return MINUTE;
  if (message.includes('小时级')) return HOUR;
  if (message.includes('天级')) return DAY;
  return HOUR;
}

/** What we read of an SDK error (`data` is the gateway's JSON answer). */
interface ThrownFields {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  retryAfter?: unknown;
  data?: unknown;
}

/** Classifies what the SDK threw: a gateway error, a transport error, or an unreadable answer. */
export function classifyError(error: unknown): ProviderResult {
  const e: ThrownFields = typeof error === 'object' && error !== null ? error : { message: error };
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const message = String(e.message);
  const data = typeof e.data === 'object' && e.data !== null ? (e.data as { Message?: unknown }) : {};
  const detail = redact(typeof data.Message === 'string' ? data.Message : message);
  const result = { ...(code ? { code } : {}), detail };

  if (name === 'ThrottlingError' || code.includes('Throttling')) {
    // x-acs-retry-after is in milliseconds: the SDK's own retry policy sleeps that many.
    const wait = typeof e.retryAfter === 'number' && e.retryAfter > 0 ? e.retryAfter : undefined;
    return { class: 'RETRY_LATER', ...(wait !== undefined ? { retryAfterMs: wait } : {}), ...result };
  }
  if (code === 'ServiceUnavailable' || code === 'SignatureNonceUsed') return { class: 'RETRY', ...result };
  if (code === 'InternalError') return { class: 'UNKNOWN', ...result };
  if (GATEWAY_CONFIG_CODES.has(code) || code.startsWith('InvalidAccessKeyId') || code.startsWith('Forbidden'))
    return { class: 'PERM_CONFIG', ...result };
  // Other gateway codes: a 5xx is transient, a 4xx a request the gateway will never take.
  if (name === 'ServerError') return { class: 'RETRY', ...result };
  if (name === 'ClientError') return { class: 'PERM_MESSAGE', ...result };

  if (NOT_CONNECTED.has(code)) return { class: 'RETRY', ...result, detail: redact(transportDetail(message)) };
  // Timeouts (httpx's connect timeout is an idle timer that also runs while we wait for the answer,
  // so even a "ConnectTimeout" may come after the request went out), resets and unreadable answers:
  // the request may have been executed.
  return { class: 'UNKNOWN', ...result, detail: redact(`${name}: ${transportDetail(message)}`) };
}

/** httpx appends the request URL, phone number included, to its messages. */
function transportDetail(message: string): string {
  return message.replace(/\s*(?:GET|POST) \S+ failed\./g, '').replace(/https?:\/\/\S+/g, '<url>');
}

/** Details go to logs: no full phone numbers in them. */
function redact(text: string): string {
  return text.replace(/\d{7,}/g, (digits) => `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`);
}
