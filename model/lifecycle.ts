/** The lifecycle stages a user moves through (churned and reactivated only where configured). */
export const LIFECYCLE_STAGES = ['new', 'active', 'dormant', 'churned', 'reactivated'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

export type Span = [start: number, end: number];

export interface ActivityTimeline {
  /** Earliest event of any kind (min). */
  firstSeenAt: number;
  /** Earliest conversion event (min). */
  convertedAt: number | null;
  /**
   * Activity events merged into spans: two activities closer than activeWithin are in one span.
   * Sorted, disjoint, separated by at least activeWithin. At most SPAN_LIMIT: spans starting more
   * than (SPAN_LIMIT - 2) x activeWithin before the latest activity are folded into the first one.
   */
  spans: Span[];
}
