/**
 * How Aliyun counts and bills an SMS: the text as the phone shows it, signature
 * and its 【】 included.
 */

/** Longer texts are rejected by Aliyun: the caller reports them as a validation error. */
export const MAX_SMS_CHARACTERS = 500;

/** Mainland China numbers follow Aliyun's domestic rules; every other number the international ones. */
export type SmsDestination = 'cn' | 'intl';

export interface SmsLength {
  /** The count the rule bills by: characters (CN), septets (GSM-7) or UTF-16 units (UCS-2). */
  characters: number;
  segments: number;
  /** `ucs2` for every domestic message: Aliyun bills those 70/67 whatever the alphabet. */
  encoding: 'gsm7' | 'ucs2';
}

const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡' +
    'ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
/** Sent as an escape and the character: two septets each. */
const GSM7_EXTENDED = new Set('|^€{}[]~\\\f');

/**
 * An 11-digit number starting with 1, bare or after +86 / 0086 / 86, is a mainland number (Aliyun
 * reads it that way too: international numbers carry their country code).
 */
export function smsDestination(phone: string): SmsDestination {
  return /^(?:\+86|0086|86)?1\d{10}$/.test(phone.replace(/[\s-]/g, '')) ? 'cn' : 'intl';
}

export function smsLength(text: string, destination: SmsDestination = 'cn'): SmsLength {
  if (destination === 'cn') {
    // Every character counts one, CJK or not; an emoji is one character too.
    const characters = [...text].length;
    return { characters, segments: segmentsOf(characters, 70, 67), encoding: 'ucs2' };
  }
  let septets = 0;
  for (const c of text) {
    if (GSM7_BASIC.has(c)) septets += 1;
    else if (GSM7_EXTENDED.has(c)) septets += 2;
    else return { characters: text.length, segments: segmentsOf(text.length, 70, 67), encoding: 'ucs2' };
  }
  return { characters: septets, segments: segmentsOf(septets, 160, 153), encoding: 'gsm7' };
}

function segmentsOf(length: number, single: number, perPart: number): number {
  if (length === 0) return 0;
  return length <= single ? 1 : Math.ceil(length / perPart);
}
