import { closest, distance } from 'fastest-levenshtein';

/**
 * ", did you mean 'x'?" for the known name nearest to a mistyped one, when it is near enough to be
 * a typo (a few edits, fewer than half the letters); else nothing.
 */
export function didYouMean(value: unknown, known: Iterable<string>): string {
  if (typeof value !== 'string' || value === '') return '';
  const candidates = [...known].filter((k) => k !== value);
  if (candidates.length === 0) return '';
  const nearest = closest(value, candidates);
  const edits = distance(value.toLowerCase(), nearest.toLowerCase());
  return edits <= Math.max(1, Math.min(3, Math.floor(value.length / 2)))
    ? `, did you mean '${nearest}'?`
    : '';
}
