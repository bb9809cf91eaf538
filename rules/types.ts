/**
 * The rule language: json-rules-engine conditions, unchanged (`all` / `any` / `not` nesting and
 * `{ fact, operator, value, path, params }` leaves), over Tideline's fixed fact vocabulary.
 * These types are the contract between rules/, segments/ and the engine.
 */
import type { Json, JsonObject } from '../model/json.ts';

export interface LeafCondition {
  fact: string;
  operator: string;
  /** A literal, or `{ fact, path?, params? }` to compare against another fact (json-rules-engine). */
  value: Json;
  path?: string;
  params?: JsonObject;
  name?: string;
  priority?: number;
}

export type Condition =
  | LeafCondition
  | { all: Condition[]; name?: string; priority?: number }
  | { any: Condition[]; name?: string; priority?: number }
  | { not: Condition; name?: string; priority?: number };

export type AggregateFn = 'count' | 'sum' | 'avg' | 'min' | 'max';

/** `params` of the `aggregate` fact. */
export interface AggregateSpec {
  event: string;
  fn: AggregateFn;
  /** Numeric event property for sum/avg/min/max, e.g. `amount` (a key of `properties`). */
  property?: string;
  /** ISO 8601 duration, e.g. `P30D`, `PT24H`; absent: all time (since the aggregate exists). */
  within?: string;
  /** A condition on the `event` fact only, e.g. the category of a product view. */
  where?: Condition;
  /**
   * An event property to group by, e.g. `productId`: the value is the largest of the groups' results
   * ("views of the same product"). Needs `within`; count and sum only (rules/aggregates.ts).
   */
  per?: string;
}

/** The `event` fact: the event being processed (null when evaluating on a timer). */
export interface EventFact {
  /** `track` event name, or `identify` / `page` / `screen` / internal names such as `segment_entered`. */
  name: string;
  type: string;
  properties: JsonObject;
  traits: JsonObject;
  /** ISO 8601. */
  timestamp: string;
}

/** The `profile` fact. Times are ISO 8601 strings (null when unknown). */
export interface ProfileFact {
  userId: string | null;
  traits: JsonObject;
  tags: string[];
  segments: string[];
  lifecycle: string | null;
  lifecycleSince: string | null;
  createdAt: string | null;
  lastSeenAt: string | null;
  timezone: string | null;
  bucket: number;
  /** The user's groups (`group` calls) by group id: `$.groups.<id>.traits.plan`. */
  groups?: Record<string, { traits: JsonObject }>;
}

/**
 * Everything a condition can read, answered from memory: never a query during evaluation.
 * `aggregate`, `lastEventAt` and `firstEventAt` are answered from the profile's materialised state.
 */
export interface FactContext {
  /** Evaluation time, ms since epoch. */
  now: number;
  /** IANA zone for day boundaries (`anniversaryToday`): the user's, else the workspace's. */
  timezone: string;
  profile: ProfileFact;
  event: EventFact | null;
  aggregate(spec: AggregateSpec): number | null;
  /** ISO 8601 or null. */
  lastEventAt(event: string): string | null;
  firstEventAt(event: string): string | null;
}

/** One fault in a rule or file, located by a JSON pointer (RFC 6901). */
export interface RuleFault {
  pointer: string;
  message: string;
  /** Where the pointer lies in the document's text (1-based), when the text is known. */
  line?: number;
  column?: number;
}
