/**
 * Validation of a condition: every fault, each located by a JSON pointer (RFC 6901).
 * json-rules-engine itself accepts much more (unknown facts are undefined, wrong types just fail);
 * a published rule must pass this first.
 */
import { BUILTIN_OPERATOR_NAMES } from './builtin-operators.ts';
import { isValidDuration, parseDurationMs } from './durations.ts';
import { MAX_PER_WINDOW } from './aggregates.ts';
import { AGGREGATE_FNS, FACT_NAMES, isFactName, PER_FNS } from './facts.ts';
import { CUSTOM_OPERATOR_NAMES } from './operators.ts';
import type { AggregateFn, RuleFault } from './types.ts';

export const OPERATOR_NAMES: readonly string[] = [...BUILTIN_OPERATOR_NAMES, ...CUSTOM_OPERATOR_NAMES];

const BOOLEAN_KEYS = ['all', 'any', 'not'] as const;
const META_KEYS = ['name', 'priority'];
const LEAF_KEYS = ['fact', 'operator', 'value', 'path', 'params', ...META_KEYS];
const FACT_REF_KEYS = ['fact', 'path', 'params'];
const AGGREGATE_KEYS = ['event', 'fn', 'property', 'within', 'where', 'per'];

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);
const isScalar = (v: unknown): boolean => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const isName = (v: unknown): v is string => typeof v === 'string' && v !== '';
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** `pointer` + `/key`, escaped per RFC 6901. */
export function childPointer(pointer: string, key: string | number): string {
  return `${pointer}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

class Faults {
  readonly list: RuleFault[] = [];
  add(pointer: string, message: string): void {
    this.list.push({ pointer, message });
  }
  unknownKeys(node: Obj, pointer: string, allowed: readonly string[], what: string): void {
    for (const key of Object.keys(node)) {
      if (!allowed.includes(key)) this.add(childPointer(pointer, key), `unknown key "${key}" in ${what}`);
    }
  }
}

/** Scope of a condition: the `where` of an aggregate reads the aggregated event only. */
interface Scope {
  eventOnly: boolean;
}

export function validateCondition(condition: unknown, basePointer = ''): RuleFault[] {
  const faults = new Faults();
  checkNode(condition, basePointer, faults, { eventOnly: false });
  return faults.list;
}

function checkNode(node: unknown, pointer: string, faults: Faults, scope: Scope): void {
  if (!isObject(node)) {
    faults.add(
      pointer,
      'a condition must be an object: { all }, { any }, { not } or { fact, operator, value }',
    );
    return;
  }
  const ops = BOOLEAN_KEYS.filter((key) => has(node, key));
  if (ops.length === 0) return checkLeaf(node, pointer, faults, scope);
  if (ops.length > 1)
    faults.add(pointer, `a condition has exactly one of all / any / not, not ${ops.join(' and ')}`);
  faults.unknownKeys(node, pointer, [...ops, ...META_KEYS], 'an all / any / not condition');
  checkMeta(node, pointer, faults);
  for (const op of ops) {
    const sub = node[op];
    const subPointer = childPointer(pointer, op);
    if (op === 'not') {
      if (isObject(sub)) checkNode(sub, subPointer, faults, scope);
      else faults.add(subPointer, '"not" takes one condition (an object)');
    } else if (!Array.isArray(sub)) {
      faults.add(subPointer, `"${op}" takes an array of conditions`);
    } else if (sub.length === 0) {
      faults.add(subPointer, `"${op}" must not be empty`);
    } else {
      sub.forEach((child, i) => checkNode(child, childPointer(subPointer, i), faults, scope));
    }
  }
}

function checkMeta(node: Obj, pointer: string, faults: Faults): void {
  if (has(node, 'name') && typeof node.name !== 'string')
    faults.add(childPointer(pointer, 'name'), 'name must be a string');
  if (has(node, 'priority') && !(Number.isInteger(node.priority) && (node.priority as number) >= 1)) {
    faults.add(childPointer(pointer, 'priority'), 'priority must be an integer >= 1');
  }
}

function checkLeaf(node: Obj, pointer: string, faults: Faults, scope: Scope): void {
  for (const key of ['fact', 'operator', 'value']) {
    if (!has(node, key)) faults.add(pointer, `missing "${key}"`);
  }
  faults.unknownKeys(node, pointer, LEAF_KEYS, 'a condition');
  checkMeta(node, pointer, faults);
  checkFactRead(node, pointer, faults, scope);
  const { operator } = node;
  if (has(node, 'operator') && !OPERATOR_NAMES.includes(operator as string)) {
    faults.add(
      childPointer(pointer, 'operator'),
      `unknown operator ${show(operator)}; operators are ${OPERATOR_NAMES.join(', ')}`,
    );
  }
  if (!has(node, 'value')) return;
  const valuePointer = childPointer(pointer, 'value');
  if (isObject(node.value) && has(node.value, 'fact')) {
    faults.unknownKeys(node.value, valuePointer, FACT_REF_KEYS, 'a fact reference');
    checkFactRead(node.value, valuePointer, faults, scope);
  } else if (typeof operator === 'string') {
    const problem = valueProblem(operator, node.value);
    if (problem) faults.add(valuePointer, problem);
  }
}

/** `fact`, `path` and `params` of a leaf or of a `{ fact }` value. */
function checkFactRead(node: Obj, pointer: string, faults: Faults, scope: Scope): void {
  const { fact, path, params } = node;
  if (!has(node, 'fact')) return;
  const factPointer = childPointer(pointer, 'fact');
  if (!isFactName(fact)) {
    faults.add(factPointer, `unknown fact ${show(fact)}; facts are ${FACT_NAMES.join(', ')}`);
  } else if (scope.eventOnly && fact !== 'event') {
    faults.add(factPointer, `an aggregate's "where" reads only the "event" fact, not "${fact}"`);
  }
  if (has(node, 'path') && !(typeof path === 'string' && path.startsWith('$'))) {
    faults.add(
      childPointer(pointer, 'path'),
      'path must be a JSONPath string starting with "$", e.g. "$.traits.city"',
    );
  }
  const paramsPointer = childPointer(pointer, 'params');
  if (fact === 'event' || fact === 'profile') {
    if (has(node, 'params')) faults.add(paramsPointer, `the "${fact}" fact takes no params`);
  } else if (fact === 'aggregate' || fact === 'lastEventAt' || fact === 'firstEventAt') {
    if (!has(node, 'params'))
      faults.add(pointer, `"${fact}" needs params ${fact === 'aggregate' ? '{ event, fn }' : '{ event }'}`);
    else if (!isObject(params)) faults.add(paramsPointer, 'params must be an object');
    else if (fact === 'aggregate') checkAggregate(params, paramsPointer, faults);
    else {
      faults.unknownKeys(params, paramsPointer, ['event'], `${fact} params`);
      if (!isName(params.event))
        faults.add(
          has(params, 'event') ? childPointer(paramsPointer, 'event') : paramsPointer,
          'params.event must be an event name',
        );
    }
  }
}

function checkAggregate(params: Obj, pointer: string, faults: Faults): void {
  faults.unknownKeys(params, pointer, AGGREGATE_KEYS, 'aggregate params');
  const at = (key: string) => (has(params, key) ? childPointer(pointer, key) : pointer);
  if (!isName(params.event)) faults.add(at('event'), 'params.event must be an event name');
  const fn = params.fn as AggregateFn;
  if (!AGGREGATE_FNS.includes(fn))
    faults.add(at('fn'), `params.fn must be one of ${AGGREGATE_FNS.join(', ')}`);
  if (has(params, 'property') ? !isName(params.property) : AGGREGATE_FNS.includes(fn) && fn !== 'count') {
    faults.add(at('property'), `params.property (a numeric event property) is required for ${fn}`);
  }
  if (has(params, 'within') && !isValidDuration(params.within)) {
    faults.add(
      at('within'),
      `params.within must be a positive ISO 8601 duration such as "P30D", not ${show(params.within)}`,
    );
  }
  if (has(params, 'where')) checkNode(params.where, at('where'), faults, { eventOnly: true });
  if (has(params, 'per')) {
    const per = at('per');
    if (!isName(params.per))
      faults.add(
        per,
        `params.per must be an event property name such as "productId", not ${show(params.per)}`,
      );
    if (!has(params, 'within')) faults.add(per, 'params.per needs params.within (a window such as "PT24H")');
    else if ((parseDurationMs(params.within) ?? 0) > MAX_PER_WINDOW)
      faults.add(at('within'), 'with params.per, params.within can be at most P31D');
    if (AGGREGATE_FNS.includes(fn) && !PER_FNS.includes(fn))
      faults.add(per, `params.per works with fn ${PER_FNS.join(' or ')}, not ${fn}`);
  }
}

/** Why `value` cannot be compared with `operator`, or null. */
function valueProblem(operator: string, value: unknown): string | null {
  switch (operator) {
    case 'equal':
    case 'notEqual':
      return isScalar(value) ? null : `${operator} compares with ===: an array or object never matches`;
    case 'in':
    case 'notIn':
      return Array.isArray(value) ? null : `${operator} needs an array value`;
    case 'contains':
    case 'doesNotContain':
      return isScalar(value) ? null : `${operator} needs a single value (string, number, boolean or null)`;
    case 'lessThan':
    case 'lessThanInclusive':
    case 'greaterThan':
    case 'greaterThanInclusive':
      return typeof value === 'number' && Number.isFinite(value)
        ? null
        : `${operator} needs a number or a { fact } reference`;
    case 'withinLast':
    case 'notWithinLast':
    case 'olderThan':
      return isValidDuration(value)
        ? null
        : `${operator} needs a positive ISO 8601 duration such as "P30D", not ${show(value)}`;
    case 'anniversaryToday':
      return typeof value === 'boolean' ? null : 'anniversaryToday needs true (or false to negate)';
    case 'anniversaryThisMonth':
      return typeof value === 'boolean' ? null : 'anniversaryThisMonth needs true (or false to negate)';
    case 'hasTag':
    case 'inSegment':
      return isName(value) ? null : `${operator} needs a non-empty string`;
    default:
      return null;
  }
}
