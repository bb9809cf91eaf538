/**
 * The fact vocabulary. Every fact is answered from the FactContext in memory (the loaded profile,
 * the current event, materialised aggregates): never a query during evaluation.
 */
import type { AggregateFn, AggregateSpec, Condition, FactContext } from './types.ts';

export const FACT_NAMES = ['event', 'profile', 'aggregate', 'lastEventAt', 'firstEventAt'] as const;
export type FactName = (typeof FACT_NAMES)[number];

export const AGGREGATE_FNS: readonly AggregateFn[] = ['count', 'sum', 'avg', 'min', 'max'];
/** The functions an aggregate with `per` takes. */
export const PER_FNS: readonly AggregateFn[] = ['count', 'sum'];

export function isFactName(name: unknown): name is FactName {
  return (FACT_NAMES as readonly unknown[]).includes(name);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The AggregateSpec in `params` (only its own keys), or an error message. */
export function toAggregateSpec(params: unknown): AggregateSpec | string {
  if (!isObject(params)) return 'aggregate needs params { event, fn }';
  const { event, fn, property, within, where, per } = params;
  if (typeof event !== 'string' || event === '') return 'aggregate params.event must be an event name';
  if (!AGGREGATE_FNS.includes(fn as AggregateFn))
    return `aggregate params.fn must be one of ${AGGREGATE_FNS.join(', ')}`;
  const spec: AggregateSpec = { event, fn: fn as AggregateFn };
  if (property !== undefined) spec.property = String(property);
  if (within !== undefined) spec.within = String(within);
  if (where !== undefined) spec.where = where as Condition;
  if (per !== undefined) {
    // The fact fails, as validation does, rather than answering something other than what was asked.
    if (typeof per !== 'string' || per === '') return 'aggregate params.per must be an event property name';
    if (spec.within === undefined) return 'aggregate params.per needs params.within';
    if (!PER_FNS.includes(spec.fn)) return `aggregate params.per works with fn ${PER_FNS.join(' or ')}`;
    spec.per = per;
  }
  return spec;
}

/**
 * A getter for fact `name` with `params`, prepared once. Params that cannot be read throw when the
 * fact is evaluated (like any failing fact in json-rules-engine), not when the getter is built.
 * An unknown fact is undefined (json-rules-engine's `allowUndefinedFacts`).
 */
export function factGetter(name: unknown, params: unknown): (ctx: FactContext) => unknown {
  switch (name) {
    case 'event':
      return (ctx) => ctx.event;
    case 'profile':
      return (ctx) => ctx.profile;
    case 'aggregate': {
      const spec = toAggregateSpec(params);
      if (typeof spec === 'string') return fail(spec);
      return (ctx) => ctx.aggregate(spec);
    }
    case 'lastEventAt':
    case 'firstEventAt': {
      const event = isObject(params) ? params.event : undefined;
      if (typeof event !== 'string' || event === '') return fail(`${name} needs params { event }`);
      return name === 'lastEventAt' ? (ctx) => ctx.lastEventAt(event) : (ctx) => ctx.firstEventAt(event);
    }
    default:
      return () => undefined;
  }
}

function fail(message: string): () => never {
  return () => {
    throw new TypeError(message);
  };
}

/** The value of fact `name` with `params` in `ctx`. */
export function factValue(name: string, params: unknown, ctx: FactContext): unknown {
  return factGetter(name, params)(ctx);
}
