// @ts-check
/** Numbers, rates, money and times in the chosen language. */
import { locale, t } from './i18n.js';

/** @param {number | null | undefined} n */
export const int = (n) => (n === null || n === undefined ? t('unknown') : n.toLocaleString(locale()));

/** A rate (0..1) as a percentage. @param {number | null | undefined} r */
export const pct = (r) =>
  r === null || r === undefined || !Number.isFinite(r)
    ? t('unknown')
    : r.toLocaleString(locale(), { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** A difference of rates in percentage points, signed. @param {number} d */
export const points = (d) =>
  `${d >= 0 ? '+' : ''}${(d * 100).toLocaleString(locale(), { maximumFractionDigits: 1, minimumFractionDigits: 1 })} ${t('percentPoints')}`;

/** Revenue in the orders' own currency (the API sums amounts as they are). @param {number} n */
export const money = (n) =>
  n.toLocaleString(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * An ISO time (or epoch ms) as a date and time in `tz`.
 * @param {string | number | null | undefined} at
 * @param {string} tz
 */
export function time(at, tz) {
  if (at === null || at === undefined) return t('unknown');
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return String(at);
  return date.toLocaleString(locale(), { timeZone: tz, dateStyle: 'medium', timeStyle: 'short' });
}

/** A JSON value as short text. @param {unknown} value */
export const text = (value) =>
  value === null || value === undefined
    ? t('unknown')
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value);
