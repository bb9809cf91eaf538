/**
 * Uplift of the treatment's conversion rate over the holdout's, with a 95% confidence interval for
 * the difference of two proportions (Wald: p1 - p2 ± 1.96 √(p1(1-p1)/n1 + p2(1-p2)/n2)).
 */
export interface Uplift {
  /** Treatment rate minus holdout rate. */
  absolute: number;
  /** `absolute` over the holdout rate; null when the holdout converted nobody. */
  relative: number | null;
  ci95: [number, number];
}

const Z95 = 1.959964;
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Null unless both groups have members. */
export function uplift(
  treatment: { entered: number; converted: number },
  holdout: { entered: number; converted: number },
): Uplift | null {
  if (treatment.entered === 0 || holdout.entered === 0) return null;
  const p1 = treatment.converted / treatment.entered;
  const p2 = holdout.converted / holdout.entered;
  const diff = p1 - p2;
  const margin = Z95 * Math.sqrt((p1 * (1 - p1)) / treatment.entered + (p2 * (1 - p2)) / holdout.entered);
  return {
    absolute: round(diff),
    relative: p2 > 0 ? round(diff / p2) : null,
    ci95: [round(diff - margin), round(diff + margin)],
  };
}
