/** What a WeChat `errcode` means for a send. */
import type { OutcomeClass, ProviderResult } from '../provider.ts';

/** The access token is expired, invalid or missing: refresh it once, then retry once. */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001, 41001]);

const SYSTEM_BUSY = -1;
const DAILY_QUOTA = 45009;
const MINUTE_QUOTA = 45011;
const MINUTE_MS = 60_000;

const CLASSES = new Map<number, OutcomeClass>([
  [0, 'OK'],
  [SYSTEM_BUSY, 'RETRY'],
  [DAILY_QUOTA, 'RETRY_LATER'],
  [MINUTE_QUOTA, 'RETRY_LATER'],
  ...[...TOKEN_ERRCODES].map((code): [number, OutcomeClass] => [code, 'REFRESH_TOKEN']),
  // Not following, refused or used up the subscription, blacklisted, or no such openid.
  [40003, 'PERM_RECIPIENT'],
  [43004, 'PERM_RECIPIENT'],
  [43019, 'PERM_RECIPIENT'],
  [43101, 'PERM_RECIPIENT'],
  // Values or page of this message.
  [47003, 'PERM_MESSAGE'],
  [41030, 'PERM_MESSAGE'],
  // Credentials, IP whitelist, template, permissions: the account, not the message.
  [40013, 'PERM_CONFIG'],
  [40125, 'PERM_CONFIG'],
  [40164, 'PERM_CONFIG'],
  [40037, 'PERM_CONFIG'],
  [48001, 'PERM_CONFIG'],
]);

/**
 * The class of an API answer. An errcode not in the table fails this message only (PERM_MESSAGE,
 * code kept for the log): pausing the whole channel on a code we do not know would be worse.
 */
export function classifyErrcode(errcode: number, errmsg: string | undefined, now: number): ProviderResult {
  const result: ProviderResult = { class: CLASSES.get(errcode) ?? 'PERM_MESSAGE' };
  if (errcode === 0) return result;
  result.code = String(errcode);
  if (errmsg) result.detail = errmsg;
  if (errcode === DAILY_QUOTA) result.retryAfterMs = untilBeijingMidnight(now);
  if (errcode === MINUTE_QUOTA) result.retryAfterMs = MINUTE_MS;
  return result;
}

const DAY_MS = 86_400_000;
/** China Standard Time has no daylight saving: UTC+8 all year. */
const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** Daily quotas reset at midnight Beijing time. */
function untilBeijingMidnight(now: number): number {
  const local = now + BEIJING_OFFSET_MS;
  return (Math.floor(local / DAY_MS) + 1) * DAY_MS - local;
}
