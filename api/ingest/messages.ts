import { createHash, randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { IANAZone } from 'luxon';
import stringify from 'safe-stable-stringify';
import type { InboundMessage, MessageType } from '../../model/events.ts';
import { isJsonObject, type JsonObject } from '../../model/json.ts';
import { type Fault, HttpError, pointerToken } from '../errors.ts';
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

/** Validates one message; returns its faults (empty when valid). */
/**
 * Timestamps further ahead than this are refused: a far-future event would make every windowed
 * aggregate and time-based rule of its user wrong until that time (clocks of devices drift, but not by a day).
 */
export const MAX_FUTURE_MS = 24 * 3_600_000;

function checkMessage(raw: unknown, base: string, receivedAt: number): Fault[] {
  if (!validateMessage(raw)) return faultsOf(validateMessage, base);
  const m = raw as unknown as JsonObject;
  const faults: Fault[] = [];
  if (typeof m.timestamp === 'string' && Date.parse(m.timestamp) > receivedAt + MAX_FUTURE_MS) {
    faults.push({ pointer: `${base}/timestamp`, message: 'is more than 24 hours in the future' });
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
        m.event,
        m.name,
        m.timestamp,
        m.properties,
        m.traits,
      ]) ?? '',
    )
    .digest('base64url');
  return `derived-${hash.slice(0, 32)}`;
}

function toInbound(m: JsonObject, receivedAt: number, sharedContext: JsonObject | undefined): InboundMessage {
  const out: InboundMessage = {
    type: m.type as MessageType,
    messageId:
      typeof m.messageId === 'string' ? m.messageId : m.timestamp ? derivedMessageId(m) : randomUUID(),
    timestamp: typeof m.timestamp === 'string' ? Date.parse(m.timestamp) : receivedAt,
    receivedAt,
  };
  const userId = idOf(m.userId);
  const anonymousId = idOf(m.anonymousId);
  const previousId = idOf(m.previousId);
  if (userId !== undefined) out.userId = userId;
  if (anonymousId !== undefined) out.anonymousId = anonymousId;
  if (previousId !== undefined && out.type === 'alias') out.previousId = previousId;
  if (typeof m.event === 'string' && out.type === 'track') out.event = m.event;
  if (typeof m.name === 'string') out.name = m.name;
  if (isJsonObject(m.properties)) out.properties = m.properties;
  if (isJsonObject(m.traits)) out.traits = m.traits;
  const context =
    sharedContext || isJsonObject(m.context)
      ? { ...sharedContext, ...(m.context as JsonObject | undefined) }
      : undefined;
  if (context) out.context = context;
  return out;
}

function checkSize(raw: unknown, pointer: string): void {
  if (Buffer.byteLength(JSON.stringify(raw)) > MAX_MESSAGE_BYTES) {
    throw new HttpError(413, 'too_large', `${pointer || '(body)'}: a message may be at most 32 KB`, [
      { pointer, message: 'message is larger than 32 KB' },
    ]);
  }
}

/**
 * Turns the body of a single call (`/v1/track`, ...) into a message, or throws a 400/413 HttpError
 * listing every fault. The path decides the type.
 */
export function parseSingle(body: unknown, type: MessageType, receivedAt: number): InboundMessage {
  if (!isJsonObject(body)) throw HttpError.invalid([{ pointer: '', message: 'body must be a JSON object' }]);
  checkSize(body, '');
  const message: JsonObject = { ...body, type };
  const faults = checkMessage(message, '', receivedAt);
  if (faults.length > 0) throw HttpError.invalid(faults);
  return toInbound(message, receivedAt, undefined);
}

/** Turns a `/v1/batch` body into messages; any fault rejects the whole batch. */
export function parseBatch(body: unknown, receivedAt: number): InboundMessage[] {
  if (!isJsonObject(body)) throw HttpError.invalid([{ pointer: '', message: 'body must be a JSON object' }]);
  if (!validateBatch(body)) throw HttpError.invalid(faultsOf(validateBatch, ''));
  const batch = body.batch as unknown[];
  const faults: Fault[] = [];
  batch.forEach((raw, i) => {
    checkSize(raw, `/batch/${i}`);
    faults.push(...checkMessage(raw, `/batch/${i}`, receivedAt));
  });
  if (faults.length > 0) throw HttpError.invalid(faults);
  const shared = isJsonObject(body.context) ? body.context : undefined;
  return batch.map((raw) => toInbound(raw as JsonObject, receivedAt, shared));
}
