/**
 * Aliyun's HTTP pushes: SmsReport (delivery receipts) and SmsUp (replies), each a
 * JSON array, parsed into inbound facts. Aliyun re-pushes on any answer but SMS_PUSH_ANSWER, so
 * the facts carry dedupe keys.
 */
import type { OptOutFact, ReceiptFact } from '../inbound.ts';
import { parseAliyunTime } from './shanghai.ts';

/** The answer both pushes expect (Aliyun only checks that `code` is a number). */
export const SMS_PUSH_ANSWER = { code: 0, msg: '接收成功' } as const;

/**
 * Replies that mean stop, compared whole after NFKC (full-width `ＴＤ` is `TD`), trimming and upper
 * casing: Aliyun's "拒收请回复R", the common "回T退订" / "回TD退订" / "回N退订", the words 退订 and
 * 拒收, and STOP / UNSUBSCRIBE for international numbers. Longer replies are not opt-outs here.
 */
const STOP_WORDS = new Set(['R', 'T', 'TD', 'N', '退订', '拒收', 'STOP', 'UNSUBSCRIBE']);

/** Receipts name the recipient: a batch's receipts share one biz_id. */
export type SmsReceiptFact = ReceiptFact & { address: string };

export function smsReportFacts(body: unknown): SmsReceiptFact[] {
  return items('SmsReport', body).map((item) => {
    const phone = item.string('phone_number');
    const bizId = item.string('biz_id');
    const outId = item.optionalString('out_id');
    const code = item.optionalString('err_code');
    const segments = item.optionalCount('sms_size');
    return {
      kind: 'receipt',
      provider: 'aliyun-sms',
      ...(outId ? { messageId: outId } : {}),
      providerId: bizId,
      address: phone,
      delivered: item.boolean('success'),
      ...(code ? { code } : {}),
      ...(segments !== undefined ? { segments } : {}),
      at: item.time('report_time'),
      dedupeKey: `aliyun-sms:report:${bizId}:${phone}`,
    };
  });
}

/** The opt-outs among the replies; other replies are dropped. */
export function smsUpFacts(body: unknown): OptOutFact[] {
  const facts: OptOutFact[] = [];
  for (const item of items('SmsUp', body)) {
    const phone = item.string('phone_number');
    const content = item.string('content', { empty: true });
    const sentAt = item.string('send_time');
    const at = item.time('send_time');
    const sequence = item.optionalString('sequence_id', { number: true });
    if (!STOP_WORDS.has(content.normalize('NFKC').trim().toUpperCase())) continue;
    facts.push({
      kind: 'optout',
      channel: 'sms',
      address: phone,
      at,
      dedupeKey: `aliyun-sms:up:${phone}:${sequence || sentAt}`,
    });
  }
  return facts;
}

/** One element of a push, with readers that throw naming the element and the field. */
interface PushItem {
  string(field: string, options?: { empty?: boolean }): string;
  optionalString(field: string, options?: { number?: boolean }): string | undefined;
  optionalCount(field: string): number | undefined;
  boolean(field: string): boolean;
  time(field: string): number;
}

function items(push: string, body: unknown): PushItem[] {
  if (!Array.isArray(body)) throw new Error(`${push} push: expected a JSON array, got ${typeOf(body)}`);
  return body.map((element: unknown, index) => {
    const where = (field?: string) => `${push} push [${index}]${field ? `.${field}` : ''}`;
    if (typeof element !== 'object' || element === null || Array.isArray(element))
      throw new Error(`${where()}: expected an object, got ${typeOf(element)}`);
    const record = element as Record<string, unknown>;
    const fail = (field: string, expected: string): never => {
      throw new Error(`${where(field)}: expected ${expected}, got ${typeOf(record[field])}`);
    };
    const item: PushItem = {
      string(field, { empty = false } = {}) {
        const value = record[field];
        return typeof value === 'string' && (empty || value !== '')
          ? value
          : fail(field, empty ? 'a string' : 'a non-empty string');
      },
      optionalString(field, { number = false } = {}) {
        const value = record[field];
        if (value === undefined || value === null) return undefined;
        if (typeof value === 'string') return value;
        if (number && typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
        return fail(field, number ? 'a string or an integer' : 'a string');
      },
      optionalCount(field) {
        const value = record[field];
        if (value === undefined || value === null || value === '') return undefined;
        const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
        return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : fail(field, 'a count');
      },
      boolean(field) {
        const value = record[field];
        return typeof value === 'boolean' ? value : fail(field, 'a boolean');
      },
      time(field) {
        const at = parseAliyunTime(item.string(field));
        return at ?? fail(field, 'a time as yyyy-MM-dd HH:mm:ss');
      },
    };
    return item;
  });
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}
