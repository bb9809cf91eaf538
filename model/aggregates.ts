/** What a profile keeps of its events for the published rules. */

/**
 * `[bucketIndex, ...values]`, bucketIndex = floor(timestamp / B) (0 for the all-time total).
 * values: count `[n]`, sum `[s]`, avg `[n, s]`, min `[m]`, max `[m]`.
 */
export type Bucket = number[];

/** JSON-serialisable; buckets sorted by index, only non-empty ones. */
export interface AggregateState {
  b: Bucket[];
  /** With `per`: each group's buckets by group key (the value's JSON text); `b` stays empty. */
  g?: Record<string, Bucket[]>;
}

/** `{ [eventName]: [firstMs, lastMs] }`, JSON-serialisable. */
export type EventTimes = Record<string, [number, number]>;
