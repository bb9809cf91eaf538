/**
 * Value tiers and RFM scores, computed on a schedule over all buyers:
 * - R (recency: time since the last order, shorter is better), F (orders in the window), M (spend in
 *   the window) each scored 1-3 by tercile among the buyers: the lowest third 1, the highest 3;
 *   equal values share the lower score (rank of their first occurrence);
 * - the 8-group model: each dimension high when better than the buyers' mean;
 * - the value tier: high / medium / low by the M tercile.
 * Users without an order in the window have none of these.
 */
export interface BuyerFigures {
  key: string;
  /** Milliseconds since the last order. */
  recency: number;
  frequency: number;
  monetary: number;
}

export type RfmGroup =
  | 'important_value'
  | 'important_retain'
  | 'important_develop'
  | 'important_winback'
  | 'general_value'
  | 'general_retain'
  | 'general_develop'
  | 'general_winback';

export interface ValueScores {
  r: number;
  f: number;
  m: number;
  group: RfmGroup;
  tier: 'high' | 'medium' | 'low';
}

/** Score 1-3 by tercile of rank; `better(a, b)` < 0 when a is worse than b. */
function terciles(values: number[], lowerIsBetter: boolean): (value: number) => number {
  const sorted = [...values].sort((a, b) => (lowerIsBetter ? b - a : a - b));
  const firstRank = new Map<number, number>();
  sorted.forEach((v, i) => {
    if (!firstRank.has(v)) firstRank.set(v, i);
  });
  return (value) => 1 + Math.floor((3 * (firstRank.get(value) as number)) / sorted.length);
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;

/** The 8 groups: [monetary high][recent][frequent]. */
const GROUPS: Record<string, RfmGroup> = {
  'M+R+F+': 'important_value',
  'M+R-F+': 'important_retain',
  'M+R+F-': 'important_develop',
  'M+R-F-': 'important_winback',
  'M-R+F+': 'general_value',
  'M-R-F+': 'general_retain',
  'M-R+F-': 'general_develop',
  'M-R-F-': 'general_winback',
};

export function scoreBuyers(buyers: readonly BuyerFigures[]): Map<string, ValueScores> {
  const scores = new Map<string, ValueScores>();
  if (buyers.length === 0) return scores;
  const r = terciles(
    buyers.map((b) => b.recency),
    true,
  );
  const f = terciles(
    buyers.map((b) => b.frequency),
    false,
  );
  const m = terciles(
    buyers.map((b) => b.monetary),
    false,
  );
  const means = {
    r: mean(buyers.map((b) => b.recency)),
    f: mean(buyers.map((b) => b.frequency)),
    m: mean(buyers.map((b) => b.monetary)),
  };
  for (const b of buyers) {
    const code = `M${b.monetary > means.m ? '+' : '-'}R${b.recency < means.r ? '+' : '-'}F${b.frequency > means.f ? '+' : '-'}`;
    const ms = m(b.monetary);
    scores.set(b.key, {
      r: r(b.recency),
      f: f(b.frequency),
      m: ms,
      group: GROUPS[code],
      tier: ms === 3 ? 'high' : ms === 2 ? 'medium' : 'low',
    });
  }
  return scores;
}
