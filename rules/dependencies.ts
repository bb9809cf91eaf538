/**
 * What a condition reads, for the dependency index: an event re-evaluates only the rules it can
 * change, and time-relative rules are re-checked when they can flip.
 */
import { toAggregateSpec } from './facts.ts';
import type { AggregateSpec, Condition } from './types.ts';

export interface ConditionDependencies {
  /** Event names it can be affected by: aggregate / lastEventAt / firstEventAt params.event, and
   * names compared with `equal` / `in` on the event fact's `$.name`. */
  events: string[];
  /** Paths read on the profile fact (`$.traits.city`; `$.tags` / `$.segments` for hasTag / inSegment). */
  traits: string[];
  aggregates: AggregateSpec[];
  /** Uses withinLast / notWithinLast / olderThan / anniversaryToday / anniversaryThisMonth, or an aggregate with `within`. */
  timeRelative: boolean;
  /** Reads the current event (the `event` fact outside an aggregate's `where`). */
  readsEvent: boolean;
}

const TIME_OPERATORS = [
  'withinLast',
  'notWithinLast',
  'olderThan',
  'anniversaryToday',
  'anniversaryThisMonth',
];

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function dependencies(condition: Condition): ConditionDependencies {
  const events = new Set<string>();
  const traits = new Set<string>();
  const aggregates = new Map<string, AggregateSpec>();
  let timeRelative = false;
  let readsEvent = false;

  const read = (source: Obj, operator: unknown, value: unknown): void => {
    const { fact, path, params } = source;
    if (fact === 'event') {
      readsEvent = true;
      if (path === '$.name' && operator === 'equal' && typeof value === 'string') events.add(value);
      if (path === '$.name' && operator === 'in' && Array.isArray(value)) {
        for (const name of value) if (typeof name === 'string') events.add(name);
      }
    } else if (fact === 'profile') {
      if (typeof path === 'string' && path !== '$') traits.add(path);
      else if (operator === 'hasTag') traits.add('$.tags');
      else if (operator === 'inSegment') traits.add('$.segments');
      else traits.add('$');
    } else if (fact === 'aggregate') {
      const spec = toAggregateSpec(params);
      if (typeof spec !== 'string') {
        aggregates.set(JSON.stringify(spec), spec);
        events.add(spec.event);
        if (spec.within) timeRelative = true;
      }
    } else if ((fact === 'lastEventAt' || fact === 'firstEventAt') && isObject(params)) {
      if (typeof params.event === 'string') events.add(params.event);
    }
  };

  const walk = (node: unknown): void => {
    if (!isObject(node)) return;
    for (const key of ['all', 'any'] as const) if (Array.isArray(node[key])) node[key].forEach(walk);
    if (isObject(node.not)) walk(node.not);
    if (!('fact' in node)) return;
    if (TIME_OPERATORS.includes(node.operator as string)) timeRelative = true;
    read(node, node.operator, node.value);
    if (isObject(node.value) && 'fact' in node.value) read(node.value, undefined, undefined);
  };

  walk(condition);
  return {
    events: [...events].sort(),
    traits: [...traits].sort(),
    aggregates: [...aggregates.values()],
    timeRelative,
    readsEvent,
  };
}
