/**
 * A rendered message measured against its channel's limits, for the template editor: what the
 * marketer sees under the preview as they type (SMS characters and billed segments with the
 * signature, WeChat keyword limits, the email subject and preheader, the push payload).
 */
import type { SendChannel } from '../model/channels.ts';
import { PUSH_PAYLOAD_BYTES } from './limits.ts';
import { MAX_SMS_CHARACTERS, smsLength } from './sms-segments.ts';
import { keyLimitProblems } from './wechat-keys.ts';

/** One figure of a rendered message; `problem` when the channel would refuse or cut it. */
export interface Measure {
  /** A JSON pointer into the rendered content (`/text`, `/subject`, `/data/thing2`). */
  pointer: string;
  /** What is measured: `sms`, `subject`, `preheader`, `key`, `payload`. */
  kind: string;
  /** The count, in `unit`. */
  value: number;
  unit: 'characters' | 'bytes' | 'segments';
  /** The channel's hard limit, or the usual display limit where there is no hard one. */
  limit?: number;
  /** SMS: billed segments. */
  segments?: number;
  problem?: string;
  /** What kind of problem, for a console to say in its language: the channel refuses it (`too_long`),
   * cuts what is shown (`cut`), or there is nothing to show (`empty`); `invalid` for a WeChat value. */
  code?: 'too_long' | 'cut' | 'empty' | 'invalid';
}

/** RFC 5322: a header line has at most 998 characters. */
const SUBJECT_MAX = 998;
/** About what desktop inboxes show of a subject and of the preheader after it. */
const SUBJECT_SHOWN = 60;
const PREHEADER_SHOWN = 100;

/** The SMS as the phone shows it: Aliyun puts the signature in front when the text lacks it. */
export function smsAsShown(signName: string, text: string): string {
  const signature = `【${signName}】`;
  return signName === '' || text.startsWith(signature) ? text : `${signature}${text}`;
}

/** What an inbox shows after the subject: the start of the text part, or of the HTML's visible text. */
export function preheaderOf(html: string | undefined, text: string | undefined): string {
  const visible =
    text ??
    (html ?? '')
      .replace(/<(style|script|head)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  return visible.replace(/\s+/g, ' ').trim().slice(0, 200);
}

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const chars = (text: string): number => [...text].length;

/** The figures of a message rendered for `channel` (the template's content, rendered). */
export function measure(channel: SendChannel, rendered: Record<string, unknown>): Measure[] {
  switch (channel) {
    case 'sms': {
      const text = smsAsShown(str(rendered.signName), str(rendered.text));
      const { characters, segments } = smsLength(text);
      return [
        {
          pointer: '/text',
          kind: 'sms',
          value: characters,
          unit: 'characters',
          limit: MAX_SMS_CHARACTERS,
          segments,
          ...(characters > MAX_SMS_CHARACTERS
            ? {
                problem: `an SMS has at most ${MAX_SMS_CHARACTERS} characters, signature included`,
                code: 'too_long' as const,
              }
            : {}),
        },
      ];
    }
    case 'email': {
      const subject = str(rendered.subject);
      const preheader = preheaderOf(
        typeof rendered.html === 'string' ? rendered.html : undefined,
        typeof rendered.text === 'string' ? rendered.text : undefined,
      );
      const length = chars(subject);
      return [
        {
          pointer: '/subject',
          kind: 'subject',
          value: length,
          unit: 'characters',
          limit: SUBJECT_SHOWN,
          ...(length === 0
            ? { problem: 'empty: the inbox shows "(no subject)"', code: 'empty' as const }
            : length > SUBJECT_MAX
              ? {
                  problem: `longer than ${SUBJECT_MAX} characters: mail servers refuse it`,
                  code: 'too_long' as const,
                }
              : length > SUBJECT_SHOWN
                ? {
                    problem: `inboxes show about the first ${SUBJECT_SHOWN} characters`,
                    code: 'cut' as const,
                  }
                : {}),
        },
        {
          pointer: rendered.text === undefined ? '/html' : '/text',
          kind: 'preheader',
          value: chars(preheader.slice(0, PREHEADER_SHOWN)),
          unit: 'characters',
          limit: PREHEADER_SHOWN,
          ...(preheader === ''
            ? {
                problem: 'no visible text: the inbox shows nothing after the subject',
                code: 'empty' as const,
              }
            : {}),
        },
      ];
    }
    case 'push': {
      const bytes = Buffer.byteLength(
        JSON.stringify({ title: rendered.title, body: rendered.body, data: rendered.data ?? {} }),
      );
      return [
        {
          pointer: '',
          kind: 'payload',
          value: bytes,
          unit: 'bytes',
          limit: PUSH_PAYLOAD_BYTES,
          ...(bytes > PUSH_PAYLOAD_BYTES
            ? { problem: `a push payload has at most ${PUSH_PAYLOAD_BYTES} bytes`, code: 'too_long' as const }
            : {}),
        },
      ];
    }
    case 'wechat':
    case 'miniprogram': {
      const data = Object.fromEntries(
        Object.entries((rendered.data ?? {}) as Record<string, unknown>).map(([k, v]) => [k, str(v)]),
      );
      const problems = new Map(keyLimitProblems(data).map((p) => [p.key, p.message]));
      return Object.entries(data).map(([key, value]) => ({
        pointer: `/data/${key}`,
        kind: 'key',
        value: chars(value),
        unit: 'characters' as const,
        ...(problems.has(key) ? { problem: problems.get(key)!, code: 'invalid' as const } : {}),
      }));
    }
    default:
      return [];
  }
}
