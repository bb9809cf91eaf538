/**
 * The callback URL's checks: the signature WeChat puts on every push, the
 * URL verification echo, and opening a push (plaintext, or AES in safe / compatible mode). Pure
 * functions, for the API's inbound route. Parsing the opened message and turning it into facts is
 * in events.ts, re-exported here.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { decrypt, getSignature } from '@wecom/crypto';

export {
  messageDedupeKey,
  parseMessage,
  wechatFacts,
  type WechatMessage,
  type WechatNode,
} from './events.ts';

/** The signed parameters of a callback request's query. */
export interface SignedParams {
  signature: string;
  timestamp: string;
  nonce: string;
}

/** A request's query as the web framework parsed it (repeated parameters as arrays). */
export type CallbackQuery = Record<string, unknown>;

export type SignatureCheck = 'ok' | 'bad_signature' | 'stale';

export interface CallbackKeys {
  /** The Token of the server configuration. */
  token: string;
  /** The 43-character EncodingAESKey, for safe and compatible mode. */
  encodingAESKey?: string;
  /** The app the pushes are for: the decrypted message ends with it. */
  appId: string;
  /** Now (ms), for the replay check; defaults to the clock. */
  now?: number;
  maxSkewSeconds?: number;
}

export type OpenError =
  /** The signature (`msg_signature` in safe mode) does not match. */
  | 'bad_signature'
  /** The timestamp is too far from now (replay). */
  | 'stale'
  /** An encrypted push, and no valid EncodingAESKey is configured. */
  | 'no_key'
  /** An encrypted push without an `Encrypt` field. */
  | 'no_encrypt'
  /** `Encrypt` does not decrypt with the key. */
  | 'bad_encrypt'
  /** Decrypted, but for another app. */
  | 'wrong_app';

export type OpenedMessage = { ok: true; plaintext: string } | { ok: false; error: OpenError };

const DEFAULT_MAX_SKEW_S = 300;

/** `sha1` of the sorted token, timestamp and nonce, and the timestamp within `maxSkewSeconds` of now. */
export function verifySignature(
  token: string,
  { signature, timestamp, nonce }: SignedParams,
  nowMs: number,
  maxSkewSeconds = DEFAULT_MAX_SKEW_S,
): SignatureCheck {
  if (!sameDigest(sha1([token, timestamp, nonce].sort().join('')), signature)) return 'bad_signature';
  return isFresh(timestamp, nowMs, maxSkewSeconds) ? 'ok' : 'stale';
}

/**
 * The server configuration check (GET): the `echostr` to answer verbatim when the signature is
 * WeChat's, else null. No replay check: an old echo reveals nothing.
 */
export function verifyUrl(token: string, query: CallbackQuery): string | null {
  const echostr = param(query, 'echostr');
  if (echostr === undefined) return null;
  const expected = sha1(
    [token, param(query, 'timestamp') ?? '', param(query, 'nonce') ?? ''].sort().join(''),
  );
  return sameDigest(expected, param(query, 'signature') ?? '') ? echostr : null;
}

/** A push's body checked and, in safe or compatible mode (`encrypt_type=aes`), decrypted. */
export function openMessage(body: string, query: CallbackQuery, keys: CallbackKeys): OpenedMessage {
  const timestamp = param(query, 'timestamp') ?? '';
  const nonce = param(query, 'nonce') ?? '';
  const now = keys.now ?? Date.now();
  const skew = keys.maxSkewSeconds ?? DEFAULT_MAX_SKEW_S;
  if (param(query, 'encrypt_type') !== 'aes') {
    const check = verifySignature(
      keys.token,
      { signature: param(query, 'signature') ?? '', timestamp, nonce },
      now,
      skew,
    );
    return check === 'ok' ? { ok: true, plaintext: body } : { ok: false, error: check };
  }
  if (!keys.encodingAESKey || Buffer.from(`${keys.encodingAESKey}=`, 'base64').length !== 32)
    return { ok: false, error: 'no_key' };
  const encrypted = encryptField(body);
  if (encrypted === undefined) return { ok: false, error: 'no_encrypt' };
  const expected = getSignature(keys.token, timestamp, nonce, encrypted);
  if (!sameDigest(expected, param(query, 'msg_signature') ?? ''))
    return { ok: false, error: 'bad_signature' };
  if (!isFresh(timestamp, now, skew)) return { ok: false, error: 'stale' };
  let opened: { message: string; id: string };
  try {
    opened = decrypt(keys.encodingAESKey, encrypted);
  } catch {
    return { ok: false, error: 'bad_encrypt' };
  }
  return opened.id === keys.appId
    ? { ok: true, plaintext: opened.message }
    : { ok: false, error: 'wrong_app' };
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

function sameDigest(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given.toLowerCase());
  return a.length === b.length && timingSafeEqual(a, b);
}

function isFresh(timestamp: string, nowMs: number, maxSkewSeconds: number): boolean {
  return /^\d{1,12}$/.test(timestamp) && Math.abs(nowMs / 1000 - Number(timestamp)) <= maxSkewSeconds;
}

function param(query: CallbackQuery, name: string): string | undefined {
  const value = query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** The `Encrypt` field of an XML or (Mini Program) JSON push body. */
function encryptField(body: string): string | undefined {
  if (body.trimStart().startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (
        typeof parsed === 'object' &&
        parsed !== null &&
        'Encrypt' in parsed &&
        typeof parsed.Encrypt === 'string'
      )
        return parsed.Encrypt;
    } catch {}
    return undefined;
  }
  const match = /<Encrypt>\s*(?:<!\[CDATA\[([^\]]*)\]\]>|([^<]*))\s*<\/Encrypt>/.exec(body);
  const value = match?.[1] ?? match?.[2];
  return value ? value.trim() : undefined;
}
