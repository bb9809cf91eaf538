/**
 * Materialised aggregates (`aggregate` fact): pure state and its update/read functions, no I/O.
 *
 * Window semantics (shared by the incremental state and the reference `fullEvaluate`):
 * - `within` is an ISO 8601 duration converted to a fixed length L (luxon's casual conversion:
 *   1 week = 7 days, 1 month = 30 days, 1 year = 365 days). Invalid or non-positive: an error.
 * - Buckets are hourly (B = 1 h) when L <= 48 h, else daily UTC days (B = 24 h).
 * - At time `now` a window covers events with `windowStart(spec, now) <= timestamp <= now`, where
 *   `windowStart = floor((now - L) / B) * B`: the start of the UTC hour or day containing now - L.
 *   So `P30D` at 2024-05-31T15:00Z counts from 2024-05-01T00:00Z, `PT24H` at 15:30 from 15:00
 *   the day before.
 * - Without `within` the aggregate is all time: one running total (since the aggregate exists,
 *   i.e. since its backfill from stored events).
 *
 * Reads are for the present: `readAggregate(state, spec, now)` equals `fullEvaluate` over the same
 * events for any `now` at or after the newest recorded event. The state keeps only the buckets a
 * present-time read can need (relative to the newest event), so reads in the past may miss pruned
 * buckets or include later events of the same bucket; events older than the kept buckets are dropped.
 *
 * Values: `count` counts matching events (`property` is ignored); `sum`/`avg`/`min`/`max` use
 * `properties[property]` only when it is a finite number (numeric strings and everything else are
 * skipped, as if the event had not matched). Empty: count and sum 0, avg/min/max null.
 *
 * Recording is order-independent: the same multiset of events gives the same state, exactly for
 * count/min/max and for sums whose partial sums are exact in binary floating point (integers,
 * binary fractions); decimal amounts such as 19.99 may differ in the last bit between orders.
 *
 * Groups (`per`, e.g. `productId`: "viewed the same product 3 times in 24 hours"):
 * - Events are grouped by `properties[per]` when it is a string or a finite number, told apart by
 *   the value's JSON text: 7 and "7" are different groups. Events without such a value do not count.
 * - Each group is aggregated over the window as above; the value is the largest group result among
 *   the groups with a counted event in the window, 0 when there is none.
 * - `per` needs `within` of at most 31 days (the state stays bounded: at most MAX_GROUPS groups of
 *   32 buckets; a group value longer than 128 characters does not count) and takes count or sum only: the largest of
 *   per-group averages, minima or maxima is rarely what is meant.
 * - The state keeps each group's buckets, pruned relative to the newest event of any group (reads are
 *   for the present of the whole state), and at most MAX_GROUPS groups: beyond that the groups whose
 *   newest bucket is oldest are dropped (among equals, the greatest keys). Their events then no longer
 *   count, so reads may undercount, and a dropped group that comes back starts from its new events:
 *   only below the cap is the state order-independent and equal to `fullEvaluate`.
 */
import { createHash } from 'node:crypto';
import { Duration } from 'luxon';
import stringify from 'safe-stable-stringify';
import type { JsonObject } from '../model/json.ts';
import type { StoredEvent } from '../model/events.ts';
import { PER_FNS } from './facts.ts';
import type { AggregateSpec, EventFact } from './types.ts';
import type { AggregateState, Bucket } from '../model/aggregates.ts';

/** A compiled `where` condition on the `event` fact. */
export type EventFilter = (event: EventFact) => boolean;

/** What aggregates read from an event. `type` and `traits` only feed the `where` filter. */
export interface AggregateEvent {
  name: string;
  timestamp: number;
  properties: JsonObject;
  type?: string;
  traits?: JsonObject;
}

/** Groups kept per user for an aggregate with `per`. */
export const MAX_GROUPS = 200;
/** Longer values (JSON text) are not ids anyone groups by; they do not count. */
export const MAX_GROUP_KEY = 128;

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** The longest window `per` takes: 200 groups x 32 daily buckets stay small. */
export const MAX_PER_WINDOW = 31 * DAY;
const HOURLY_MAX = 48 * HOUR;

// Specs come from compiled conditions and are read on every evaluation: hash each object once.
const ids = new WeakMap<AggregateSpec, string>();

/** A short stable id: key order (also inside `where`) and absent keys do not matter. */
export function aggregateId(spec: AggregateSpec): string {
  let id = ids.get(spec);
  if (id === undefined) {
    id = hashSpec(spec);
    ids.set(spec, id);
  }
  return id;
}

function hashSpec(spec: AggregateSpec): string {
  const canonical = stringify({
    event: spec.event,
    fn: spec.fn,
    property: spec.fn === 'count' ? undefined : spec.property,
    within: spec.within,
    where: spec.where,
    per: spec.per, // absent: left out, so ids without `per` are unchanged
  });
  return createHash('sha1')
    .update(canonical ?? '')
    .digest('base64url')
    .slice(0, 12);
}

export interface Window {
  length: number;
  bucket: number;
  /** Buckets older than newest - span can no longer be in any present-time window. */
  span: number;
}

const windows = new Map<string, Window>();

/** null for all time. */
export function windowOf(spec: AggregateSpec): Window | null {
  if (spec.within === undefined) return null;
  let w = windows.get(spec.within);
  if (w === undefined) {
    const d = Duration.fromISO(spec.within);
    const length = d.isValid ? d.as('milliseconds') : NaN;
    if (!(length > 0))
      throw new Error(`aggregate within: ${spec.within} is not a positive ISO 8601 duration`);
    const bucket = length <= HOURLY_MAX ? HOUR : DAY;
    w = { length, bucket, span: Math.ceil(length / bucket) };
    windows.set(spec.within, w);
  }
  return w;
}

/** First millisecond the window at `now` covers (-Infinity without `within`). */
export function windowStart(spec: AggregateSpec, now: number): number {
  const w = windowOf(spec);
  return w === null ? -Infinity : Math.floor((now - w.length) / w.bucket) * w.bucket;
}

export function emptyAggregate(): AggregateState {
  return { b: [] };
}

export function toEventFact(e: AggregateEvent): EventFact {
  return {
    name: e.name,
    type: e.type ?? 'track',
    properties: e.properties,
    traits: e.traits ?? {},
    timestamp: new Date(e.timestamp).toISOString(),
  };
}

/** A stored history event as aggregates see it. */
export function aggregateEventOf(e: StoredEvent): AggregateEvent {
  return {
    name: e.event,
    timestamp: e.timestamp,
    properties: e.properties ?? {},
    type: e.type,
    traits: e.traits ?? {},
  };
}

/** The value the event contributes, or undefined when it does not count. */
function valueOf(spec: AggregateSpec, e: AggregateEvent, filter?: EventFilter): number | undefined {
  if (e.name !== spec.event) return undefined;
  let value = 1;
  if (spec.fn !== 'count') {
    if (spec.property === undefined) throw new Error(`aggregate ${spec.fn} needs a property`);
    const v = e.properties[spec.property];
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
    value = v;
  }
  if (filter !== undefined && !filter(toEventFact(e))) return undefined;
  return value;
}

/** The window of an aggregate with `per`; throws when `per` cannot be used (see the module comment). */
function groupedWindow(spec: AggregateSpec): Window {
  const w = windowOf(spec);
  if (w === null) throw new Error('aggregate per needs within');
  if (!PER_FNS.includes(spec.fn)) throw new Error(`aggregate per works with ${PER_FNS.join(' or ')}`);
  return w;
}

/** The event's group key under `per`, or undefined when it has none (or one too long to keep). */
function groupOf(per: string, e: AggregateEvent): string | undefined {
  const v = e.properties[per];
  const key =
    typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? JSON.stringify(v) : undefined;
  return key !== undefined && key.length <= MAX_GROUP_KEY ? key : undefined;
}

function fresh(spec: AggregateSpec, index: number, v: number): Bucket {
  return spec.fn === 'avg' ? [index, 1, v] : [index, spec.fn === 'count' ? 1 : v];
}

function merge(spec: AggregateSpec, b: Bucket, v: number): Bucket {
  switch (spec.fn) {
    case 'count':
      return [b[0], b[1] + 1];
    case 'sum':
      return [b[0], b[1] + v];
    case 'avg':
      return [b[0], b[1] + 1, b[2] + v];
    case 'min':
      return [b[0], Math.min(b[1], v)];
    case 'max':
      return [b[0], Math.max(b[1], v)];
  }
}

/** `b` (not changed) with value `v` added to bucket `index`. */
function insert(spec: AggregateSpec, b: Bucket[], index: number, v: number): Bucket[] {
  let i = b.length; // position of the first bucket with index >= `index`; events are mostly recent
  while (i > 0 && b[i - 1][0] >= index) i--;
  const out = b.slice();
  if (i < b.length && b[i][0] === index) out[i] = merge(spec, b[i], v);
  else out.splice(i, 0, fresh(spec, index, v));
  return out;
}

function prune(b: Bucket[], cutoff: number): Bucket[] {
  let keep = 0;
  while (keep < b.length && b[keep][0] < cutoff) keep++;
  return keep === 0 ? b : b.slice(keep);
}

export function recordEvent(
  state: AggregateState,
  spec: AggregateSpec,
  event: AggregateEvent,
  filter?: EventFilter,
): AggregateState {
  if (spec.per !== undefined) return recordGrouped(state, spec, spec.per, event, filter);
  const v = valueOf(spec, event, filter);
  if (v === undefined) return state;
  const w = windowOf(spec);
  const index = w === null ? 0 : Math.floor(event.timestamp / w.bucket);
  const b = state.b;
  const newest = b.length === 0 ? index : Math.max(b[b.length - 1][0], index);
  const cutoff = w === null ? 0 : newest - w.span;
  if (index < cutoff) return state;
  return { b: prune(insert(spec, b, index, v), cutoff) };
}

/** The newest bucket index of any group, -Infinity without groups. */
function newestOf(groups: Record<string, Bucket[]>): number {
  let newest = -Infinity;
  for (const b of Object.values(groups)) newest = Math.max(newest, b[b.length - 1][0]);
  return newest;
}

/** Drops the groups beyond MAX_GROUPS (see the module comment), in place. */
function cap(groups: Record<string, Bucket[]>): void {
  const keys = Object.keys(groups);
  if (keys.length <= MAX_GROUPS) return;
  const newest = (key: string) => groups[key][groups[key].length - 1][0];
  keys.sort((x, y) => newest(y) - newest(x) || (x < y ? -1 : x > y ? 1 : 0));
  for (const key of keys.slice(MAX_GROUPS)) delete groups[key];
}

function recordGrouped(
  state: AggregateState,
  spec: AggregateSpec,
  per: string,
  event: AggregateEvent,
  filter?: EventFilter,
): AggregateState {
  const w = groupedWindow(spec);
  if (event.name !== spec.event) return state;
  const key = groupOf(per, event);
  if (key === undefined) return state;
  const v = valueOf(spec, event, filter);
  if (v === undefined) return state;
  const index = Math.floor(event.timestamp / w.bucket);
  const groups = state.g ?? {};
  const previous = newestOf(groups);
  const cutoff = Math.max(previous, index) - w.span;
  if (index < cutoff) return state;

  let out: Record<string, Bucket[]>;
  if (index > previous) {
    // The window of the present moved: every group loses what it can no longer need.
    out = {};
    for (const [k, b] of Object.entries(groups)) {
      const kept = prune(b, cutoff);
      if (kept.length > 0) out[k] = kept;
    }
  } else out = { ...groups };
  out[key] = insert(spec, out[key] ?? [], index, v);
  cap(out);
  return { b: [], g: out };
}

function combine(spec: AggregateSpec, a: Bucket, b: Bucket): Bucket {
  switch (spec.fn) {
    case 'count':
    case 'sum':
      return [a[0], a[1] + b[1]];
    case 'avg':
      return [a[0], a[1] + b[1], a[2] + b[2]];
    case 'min':
      return [a[0], Math.min(a[1], b[1])];
    case 'max':
      return [a[0], Math.max(a[1], b[1])];
  }
}

/**
 * The state of the union of two event sets (an anonymous visitor's history joining the user's):
 * the same as recording both sets' events into one state, in any order.
 */
export function mergeAggregates(spec: AggregateSpec, a: AggregateState, b: AggregateState): AggregateState {
  if (spec.per !== undefined) return mergeGrouped(spec, a, b);
  const out = union(spec, a.b, b.b);
  const w = windowOf(spec);
  if (w === null || out.length === 0) return { b: out };
  return { b: prune(out, out[out.length - 1][0] - w.span) };
}

/** The buckets of both lists, combined by index, sorted. */
function union(spec: AggregateSpec, a: Bucket[], b: Bucket[]): Bucket[] {
  const byIndex = new Map<number, Bucket>();
  for (const bucket of [...a, ...b]) {
    const current = byIndex.get(bucket[0]);
    byIndex.set(bucket[0], current ? combine(spec, current, bucket) : bucket);
  }
  return [...byIndex.values()].sort((x, y) => x[0] - y[0]);
}

function mergeGrouped(spec: AggregateSpec, a: AggregateState, b: AggregateState): AggregateState {
  const w = groupedWindow(spec);
  const groups: Record<string, Bucket[]> = { ...a.g };
  for (const [key, buckets] of Object.entries(b.g ?? {}))
    groups[key] = Object.hasOwn(groups, key) ? union(spec, groups[key], buckets) : buckets;
  const cutoff = newestOf(groups) - w.span;
  const out: Record<string, Bucket[]> = {};
  for (const [key, buckets] of Object.entries(groups)) {
    const kept = prune(buckets, cutoff);
    if (kept.length > 0) out[key] = kept;
  }
  cap(out);
  return Object.keys(out).length === 0 ? emptyAggregate() : { b: [], g: out };
}

/** The same state as recording the events one by one, in any order. */
export function backfill(
  spec: AggregateSpec,
  events: Iterable<AggregateEvent>,
  filter?: EventFilter,
): AggregateState {
  let state = emptyAggregate();
  for (const e of events) state = recordEvent(state, spec, e, filter);
  return state;
}

interface Totals {
  n: number;
  s: number;
  m: number | null;
}

function result(spec: AggregateSpec, t: Totals): number | null {
  switch (spec.fn) {
    case 'count':
      return t.n;
    case 'sum':
      return t.s;
    case 'avg':
      return t.n === 0 ? null : t.s / t.n;
    default:
      return t.m;
  }
}

function fold(spec: AggregateSpec, t: Totals, n: number, s: number, m: number): void {
  t.n += n;
  t.s += s;
  if (spec.fn === 'min') t.m = t.m === null ? m : Math.min(t.m, m);
  else if (spec.fn === 'max') t.m = t.m === null ? m : Math.max(t.m, m);
}

/** The aggregate at `now` (>= the newest recorded event; see the module comment). */
export function readAggregate(state: AggregateState, spec: AggregateSpec, now: number): number | null {
  const w = spec.per === undefined ? windowOf(spec) : groupedWindow(spec);
  const from = w === null ? -Infinity : windowStart(spec, now) / w.bucket;
  const to = w === null ? Infinity : now / w.bucket; // a bucket counts when it starts in [start, now]
  if (spec.per === undefined) return result(spec, totals(spec, state.b, from, to));
  let best: number | null = null;
  for (const buckets of Object.values(state.g ?? {})) {
    const t = totals(spec, buckets, from, to);
    if (t.n > 0) best = Math.max(best ?? -Infinity, result(spec, t) as number);
  }
  return best ?? 0;
}

function totals(spec: AggregateSpec, buckets: Bucket[], from: number, to: number): Totals {
  const t: Totals = { n: 0, s: 0, m: null };
  for (const b of buckets) {
    if (b[0] < from || b[0] > to) continue;
    if (spec.fn === 'avg') fold(spec, t, b[1], b[2], 0);
    else fold(spec, t, spec.fn === 'count' ? b[1] : 1, b[1], b[1]);
  }
  return t;
}

/** The reference: the aggregate at `now` computed straight from events. */
export function fullEvaluate(
  spec: AggregateSpec,
  events: Iterable<AggregateEvent>,
  now: number,
  filter?: EventFilter,
): number | null {
  if (spec.per !== undefined) groupedWindow(spec);
  const start = windowStart(spec, now);
  const t: Totals = { n: 0, s: 0, m: null };
  const groups = new Map<string, Totals>();
  for (const e of events) {
    if (e.timestamp < start || e.timestamp > now) continue;
    const key = spec.per === undefined ? undefined : groupOf(spec.per, e);
    if (spec.per !== undefined && key === undefined) continue;
    const v = valueOf(spec, e, filter);
    if (v === undefined) continue;
    if (key === undefined) fold(spec, t, 1, v, v);
    else {
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { n: 0, s: 0, m: null }));
      fold(spec, g, 1, v, v);
    }
  }
  if (spec.per === undefined) return result(spec, t);
  let best: number | null = null;
  for (const g of groups.values()) best = Math.max(best ?? -Infinity, result(spec, g) as number);
  return best ?? 0;
}
