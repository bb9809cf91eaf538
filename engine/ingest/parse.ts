import { createHash, randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { IANAZone } from 'luxon';
import stringify from 'safe-stable-stringify';
import type { InboundMessage, MessageType } from '../../model/events.ts';
import { isJsonObject, type JsonObject } from '../../model/json.ts';
import { type Fault, InputError, pointerToken } from '../../model/input-error.ts';
import { batchSchema, messageSchema } from './schema.ts';

/** Segment's limits. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;

// ajv-formats is CommonJS with `exports.default`; under NodeNext its default import is the module object.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv, formats: string[]) => Ajv }).default;
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv, ['date-time']);
const validateMessage = ajv.compile(messageSchema);
const validateBatch = ajv.compile(batchSchema);

function faultsOf(validate: ValidateFunction, base: string): Fault[] {
  return (validate.errors ?? []).map((e: ErrorObject) => {
    const missing =
      e.keyword === 'required'
        ? `/${pointerToken((e.params as { missingProperty: string }).missingProperty)}`
        : '';
    const message =
      e.keyword === 'format' && e.params.format === 'date-time'
        ? 'must be an ISO 8601 date-time, e.g. 2026-11-22T09:30:00.000Z'
        : e.keyword === 'enum'
          ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
          : (e.message ?? 'is invalid');
    return { pointer: `${base}${e.instancePath}${missing}`, message };
  });
}

// Checking a zone builds an Intl.DateTimeFormat; there are a few hundred valid ones, so remember them.
const validZones = new Set<string>();
function isTimezone(zone: unknown): boolean {
  if (typeof zone !== 'string') return false;
  if (validZones.has(zone)) return true;
  const valid = IANAZone.isValidZone(zone);
  if (valid) validZones.add(zone);
  return valid;
}

/**
 * Timestamps further ahead than this (after clock-skew correction) are refused: a far-future event
 * would make every windowed aggregate and time-based rule of its user wrong until that time.
 */
export const MAX_FUTURE_MS = 24 * 3_600_000;

/**
 * A client whose `sentAt` is within this of the API's clock is taken as right: the difference is
 * transit and buffering, not skew, and an explicit timestamp (a backfill, a test) is kept exactly.
 * Beyond it the event time is corrected as Segment does.
 */
export const SKEW_TOLERANCE_MS = 10_000;

/**
 * Segment's leniency: a top-level field sent as `null` is absent (analytics.js sends `userId: null`
 * before login, server SDKs send `properties: null`), and so is an empty `userId` or `anonymousId`.
 */
function lenient(raw: unknown): unknown {
  if (!isJsonObject(raw)) return raw;
  let absent = false;
  for (const name in raw) {
    const value = raw[name];
    if (value === null || (value === '' && (name === 'userId' || name === 'anonymousId'))) absent = true;
  }
  // Most messages have nothing to drop: they are used as they are, uncopied.
  if (!absent) return raw;
  const out: JsonObject = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === null) continue;
    if ((name === 'userId' || name === 'anonymousId') && value === '') continue;
    out[name] = value;
  }
  return out;
}

/**
 * The event time. The client's time is `timestamp` (Segment) or `originalTimestamp` (RudderStack);
 * with the client's `sentAt` (on the message or the batch), a skewed clock is corrected as Segment and
 * RudderStack do: timestamp = receivedAt - (sentAt - original). Without a client time: arrival.
 */
export function eventTime(
  m: JsonObject,
  batchSentAt: string | undefined,
  receivedAt: number,
): { timestamp: number; originalTimestamp?: number } {
  const given =
    typeof m.timestamp === 'string'
      ? m.timestamp
      : typeof m.originalTimestamp === 'string'
        ? m.originalTimestamp
        : undefined;
  if (given === undefined) return { timestamp: receivedAt };
  const original = Date.parse(given);
  const sentAt = typeof m.sentAt === 'string' ? m.sentAt : batchSentAt;
  const skew = sentAt === undefined ? 0 : Date.parse(sentAt) - receivedAt;
  if (Math.abs(skew) <= SKEW_TOLERANCE_MS) return { timestamp: original, originalTimestamp: original };
  return { timestamp: original - skew, originalTimestamp: original };
}

function checkMessage(
  raw: unknown,
  base: string,
  receivedAt: number,
  batchSentAt: string | undefined,
): Fault[] {
  if (!validateMessage(raw)) return faultsOf(validateMessage, base);
  const m = raw as unknown as JsonObject;
  const faults: Fault[] = [];
  if (eventTime(m, batchSentAt, receivedAt).timestamp > receivedAt + MAX_FUTURE_MS) {
    const field = typeof m.timestamp === 'string' ? 'timestamp' : 'originalTimestamp';
    faults.push({
      pointer: `${base}/${field}`,
      message: 'is more than 24 hours in the future (after correcting the clock by sentAt)',
    });
  }
  for (const name of ['userId', 'anonymousId', 'previousId'] as const) {
    const value = m[name];
    // Beyond 2^53 JSON numbers lose digits: two users' ids would become one.
    if (typeof value === 'number' && !Number.isSafeInteger(value))
      faults.push({
        pointer: `${base}/${name}`,
        message: `a numeric id must be an integer up to ${Number.MAX_SAFE_INTEGER}: send larger ids as strings`,
      });
  }
  if (m.type === 'track' && m.event === undefined)
    faults.push({ pointer: `${base}/event`, message: 'is required for track calls' });
  if (m.type === 'group' && m.groupId === undefined)
    faults.push({ pointer: `${base}/groupId`, message: 'is required for group calls' });
  if (m.type === 'alias') {
    if (m.userId === undefined)
      faults.push({ pointer: `${base}/userId`, message: 'is required for alias calls' });
    if (m.previousId === undefined)
      faults.push({ pointer: `${base}/previousId`, message: 'is required for alias calls' });
  } else if (m.userId === undefined && m.anonymousId === undefined) {
    faults.push({ pointer: `${base}/userId`, message: 'userId or anonymousId is required' });
  }
  for (const [where, holder] of [
    ['traits', m.traits],
    ['context', m.context],
  ] as const) {
    if (isJsonObject(holder) && holder.timezone !== undefined && holder.timezone !== null) {
      if (!isTimezone(holder.timezone)) {
        faults.push({
          pointer: `${base}/${where}/timezone`,
          message: 'must be an IANA timezone, e.g. Asia/Shanghai',
        });
      }
    }
  }
  return faults;
}

export function idOf(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Without a messageId, the idempotency key is derived from who, what, when and the payload. */
function derivedMessageId(m: JsonObject): string {
  const hash = createHash('sha256')
    .update(
      stringify([
        m.type,
        m.userId,
        m.anonymousId,
        m.previousId,
        m.groupId,
        m.event,
        m.name,
        m.timestamp ?? m.originalTimestamp,
        m.properties,
        m.traits,
      ]) ?? '',
    )
    .digest('base64url');
  return `derived-${hash.slice(0, 32)}`;
}

function toInbound(
  m: JsonObject,
  receivedAt: number,
  sharedContext: JsonObject | undefined,
  batchSentAt: string | undefined,
): InboundMessage {
  const time = eventTime(m, batchSentAt, receivedAt);
  const out: InboundMessage = {
    type: m.type as MessageType,
    messageId:
      typeof m.messageId === 'string'
        ? m.messageId
        : m.timestamp || m.originalTimestamp
          ? derivedMessageId(m)
          : randomUUID(),
    timestamp: time.timestamp,
    receivedAt,
  };
  if (time.originalTimestamp !== undefined) out.originalTimestamp = time.originalTimestamp;
  const userId = idOf(m.userId);
  const anonymousId = idOf(m.anonymousId);
  const previousId = idOf(m.previousId);
  if (userId !== undefined) out.userId = userId;
  if (anonymousId !== undefined) out.anonymousId = anonymousId;
  if (previousId !== undefined && out.type === 'alias') out.previousId = previousId;
  if (typeof m.event === 'string' && out.type === 'track') out.event = m.event;
  if (typeof m.name === 'string') out.name = m.name;
  const groupId = idOf(m.groupId);
  if (groupId !== undefined && out.type === 'group') out.groupId = groupId;
  if (isJsonObject(m.properties)) out.properties = m.properties;
  if (isJsonObject(m.traits)) out.traits = m.traits;
  const context =
    sharedContext || isJsonObject(m.context)
      ? { ...sharedContext, ...(m.context as JsonObject | undefined) }
      : undefined;
  if (context) out.context = context;
  return out;
}

/** The fault of a message over 32 KB in a batch. */
export const TOO_LARGE = 'message is larger than 32 KB';

function oversized(raw: unknown): boolean {
  // Most messages are a small fraction of the limit: a bound on their size, counted without writing
  // them out, spares the JSON text and its UTF-8 length.
  if (jsonBytesBound(raw, MAX_MESSAGE_BYTES) <= MAX_MESSAGE_BYTES) return false;
  return Buffer.byteLength(JSON.stringify(raw)) > MAX_MESSAGE_BYTES;
}

/**
 * At least the UTF-8 length of JSON.stringify(value) for parsed JSON (a string's code unit takes at
 * most 6 bytes, as a \u escape; a number at most 32), or anything over `budget` once it passes it.
 */
function jsonBytesBound(value: unknown, budget: number): number {
  switch (typeof value) {
    case 'string':
      return 6 * value.length + 2;
    case 'number':
      return 32;
    case 'boolean':
      return 5;
    case 'object':
      break;
    default:
      return Infinity; // not from JSON.parse: let JSON.stringify say
  }
  if (value === null) return 4;
  let bytes = 2;
  if (Array.isArray(value)) {
    for (const item of value) {
      bytes += jsonBytesBound(item, budget - bytes) + 1;
      if (bytes > budget) return bytes;
    }
    return bytes;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return Infinity;
  for (const key in value) {
    bytes += 6 * key.length + 4 + jsonBytesBound((value as Record<string, unknown>)[key], budget - bytes);
    if (bytes > budget) return bytes;
  }
  return bytes;
}

function tooLarge(pointer: string): InputError {
  return new InputError(413, 'too_large', `${pointer || '(body)'}: a message may be at most 32 KB`, [
    { pointer, message: TOO_LARGE },
  ]);
}

/**
 * Turns the body of a single call (`/v1/track`, ...) into a message, or throws a 400/413 InputError
 * listing every fault. The path decides the type.
 */
export function parseSingle(body: unknown, type: MessageType, receivedAt: number): InboundMessage {
  if (!isJsonObject(body)) throw InputError.invalid([{ pointer: '', message: 'body must be a JSON object' }]);
  if (oversized(body)) throw tooLarge('');
  const message = { ...(lenient(body) as JsonObject), type };
  const faults = checkMessage(message, '', receivedAt, undefined);
  if (faults.length > 0) throw InputError.invalid(faults);
  return toInbound(message, receivedAt, undefined, undefined);
}

/** A message of a batch that was refused: its index in `batch` and what is wrong, by JSON pointer. */
export interface Rejection {
  index: number;
  errors: Fault[];
}

export interface ParsedBatch {
  /** The valid messages, in batch order. */
  messages: InboundMessage[];
  /** The invalid ones (each changes nothing). */
  rejected: Rejection[];
}

/**
 * Turns a `/v1/batch` body into messages. A fault of the envelope (not an object, no `batch` array)
 * throws a 400. Each message stands alone: the invalid ones are listed in `rejected` and the valid ones
 * kept, unless `strict`, where any fault throws for the whole batch (400, or 413 for an oversized
 * message).
 */
export function parseBatchMessages(body: unknown, receivedAt: number, strict: boolean): ParsedBatch {
  if (!isJsonObject(body)) throw InputError.invalid([{ pointer: '', message: 'body must be a JSON object' }]);
  const envelope = lenient(body) as JsonObject;
  if (!validateBatch(envelope)) throw InputError.invalid(faultsOf(validateBatch, ''));
  const batch = envelope.batch as unknown[];
  // The batch's sentAt only corrects clocks: one that cannot be read corrects nothing, and refuses nothing.
  const sentAt =
    typeof envelope.sentAt === 'string' && Number.isFinite(Date.parse(envelope.sentAt))
      ? envelope.sentAt
      : undefined;
  const shared = isJsonObject(envelope.context) ? envelope.context : undefined;
  const messages: InboundMessage[] = [];
  const rejected: Rejection[] = [];
  batch.forEach((raw, index) => {
    const base = `/batch/${index}`;
    if (oversized(raw)) {
      if (strict) throw tooLarge(base);
      rejected.push({ index, errors: [{ pointer: base, message: TOO_LARGE }] });
      return;
    }
    const message = lenient(raw);
    const faults = checkMessage(message, base, receivedAt, sentAt);
    if (faults.length > 0) rejected.push({ index, errors: faults });
    else messages.push(toInbound(message as JsonObject, receivedAt, shared, sentAt));
  });
  if (strict && rejected.length > 0) throw InputError.invalid(rejected.flatMap((r) => r.errors));
  return { messages, rejected };
}

/** A `/v1/batch` body whose messages must all be valid (strict mode): the messages, or a 400/413. */
export function parseBatch(body: unknown, receivedAt: number): InboundMessage[] {
  return parseBatchMessages(body, receivedAt, true).messages;
}
