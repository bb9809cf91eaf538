/**
 * The value limits of typed template keywords: a key's type is its name without
 * the trailing number (`thing2`, `character_string1`, `date01`). WeChat answers 47003 to a value
 * outside them. Keys of other names (legacy `keyword1`, `first`) and `const` / `enum` values
 * (approved per template) are not checked.
 */

export interface KeyProblem {
  key: string;
  message: string;
}

/** A problem with the value, or null. */
type Check = (value: string, length: number) => string | null;

const HAN = /\p{Script=Han}/u;
const DATE_OR_TIME = /^[\d\s年月日时分秒:./-]+$/u;

const within = (max: number, what: string, length: number): string | null =>
  length >= 1 && length <= max ? null : `at most ${max} ${what} (has ${length})`;

const CHECKS = new Map<string, Check>([
  ['thing', (_, length) => within(20, 'characters', length)],
  [
    'number',
    (value) =>
      !/^\d+(\.\d+)?$/.test(value)
        ? 'digits only, with an optional decimal part'
        : within(32, 'digits', value.replace('.', '').length),
  ],
  ['letter', (value, length) => (/^[A-Za-z]*$/.test(value) ? within(32, 'letters', length) : 'letters only')],
  [
    'symbol',
    (value, length) => (/^[^\p{L}\p{N}\s]*$/u.test(value) ? within(5, 'symbols', length) : 'symbols only'),
  ],
  [
    'character_string',
    (value, length) =>
      /^[\x20-\x7e]*$/.test(value) ? within(32, 'characters', length) : 'digits, letters and symbols only',
  ],
  [
    'phrase',
    (value, length) =>
      /^\p{Script=Han}*$/u.test(value) ? within(5, 'characters', length) : 'Chinese characters only',
  ],
  [
    'name',
    (value, length) =>
      HAN.test(value) ? within(10, 'characters for a Chinese name', length) : within(20, 'letters', length),
  ],
  [
    'amount',
    (value) =>
      /^\p{Sc}?\d+(\.\d+)?元?$/u.test(value)
        ? within(10, 'digits', value.replace(/\D/g, '').length)
        : 'an optional currency symbol, digits with an optional decimal part, and an optional 元',
  ],
  [
    'phone_number',
    (value, length) =>
      /^[\d\p{P}\p{S}\s]*$/u.test(value) ? within(17, 'characters', length) : 'digits and symbols only',
  ],
  [
    'car_number',
    (value, length) => (isCarNumber(value) ? within(8, 'characters', length) : 'not a plate number'),
  ],
  ['time', dateOrTime],
  ['date', dateOrTime],
]);

export function keyLimitProblems(data: Record<string, string>): KeyProblem[] {
  const problems: KeyProblem[] = [];
  for (const [key, value] of Object.entries(data)) {
    const check = CHECKS.get(key.replace(/\d+$/, ''));
    const message = check?.(value, [...value].length);
    if (message) problems.push({ key, message });
  }
  return problems;
}

/** A date or time, or a range of two joined by `~`: `2019年10月1日 15:01`, `2026-03-02 ~ 2026-03-05`. */
function dateOrTime(value: string): string | null {
  const ok = value.split('~').every((part) => /\d/.test(part) && DATE_OR_TIME.test(part.trim()));
  return ok ? null : 'a date or time (or two joined by ~)';
}

/** Letters and digits; the first and the last may be Chinese characters (`粤B12345`, `粤B1234学`). */
function isCarNumber(value: string): boolean {
  const chars = [...value];
  return chars.every((c, i) => /[A-Za-z0-9]/.test(c) || ((i === 0 || i === chars.length - 1) && HAN.test(c)));
}
