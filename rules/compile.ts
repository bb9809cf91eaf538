/**
 * Compiles a condition once into a plain synchronous predicate for the hot path.
 * json-rules-engine (reference.ts) stays the reference: this module mirrors its semantics exactly,
 * including priority sets, which siblings get evaluated (and so which errors surface),
 * and undefined facts; test/rules/differential.test.ts checks the two agree.
 */
import { builtinOperators } from './builtin-operators.ts';
import { factGetter } from './facts.ts';
import { pathResolver } from './jsonpath.ts';
import { customOperators, type OperatorFn } from './operators.ts';
import type { Condition, FactContext } from './types.ts';

export type Predicate = (ctx: FactContext) => boolean;
type Getter = (ctx: FactContext) => unknown;
type Node = Record<string, unknown>;

const OPERATORS = new Map<string, OperatorFn>([
  ...Object.entries(builtinOperators),
  ...Object.entries(customOperators),
]);

const has = (value: unknown, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);

/** Condition.booleanOperator: `any` wins over `all`, `all` over `not`. */
function booleanOperator(node: unknown): 'any' | 'all' | 'not' | undefined {
  return has(node, 'any') ? 'any' : has(node, 'all') ? 'all' : has(node, 'not') ? 'not' : undefined;
}

function thrower(message: string): Predicate {
  return () => {
    throw new Error(message);
  };
}

/** A predicate for `condition`; throws, like json-rules-engine's Rule constructor, on a malformed one. */
export function compile(condition: Condition): Predicate {
  return compileNode(condition, true);
}

function compileNode(node: unknown, root = false): Predicate {
  if (!node) throw new Error('Condition: constructor options required');
  const op = booleanOperator(node);
  if (op) {
    const sub = (node as Node)[op];
    if (op !== 'not' && !Array.isArray(sub)) throw new Error(`"${op}" must be an array`);
    if (op === 'not' && Array.isArray(sub)) throw new Error('"not" cannot be an array');
    const children = op === 'not' ? [compileNode(sub)] : (sub as unknown[]).map((c) => compileNode(c));
    // The rule's root is evaluated by its boolean operator; a nested node is first a reference.
    if (!root && has(node, 'condition')) return thrower('shared conditions are not supported');
    if (op === 'not') {
      const [child] = children;
      return (ctx) => !child(ctx);
    }
    return combine(op, sub as unknown[], children);
  }
  if (has(node, 'condition')) return thrower('shared conditions are not supported');
  for (const key of ['fact', 'operator', 'value']) {
    if (!has(node, key)) throw new Error(`Condition: constructor "${key}" property required`);
  }
  return compileLeaf(node as Node);
}

/** Rule.prioritizeConditions: sets by priority, highest first (leaf default: the fact's, i.e. 1). */
function prioritySets(nodes: unknown[], children: Predicate[]): Predicate[][] {
  const sets: Record<string, Predicate[]> = {};
  nodes.forEach((node, i) => {
    const raw = (node as Node).priority;
    const priority = booleanOperator(node) ? Number.parseInt(raw as string, 10) || 1 : raw || 1;
    (sets[String(priority)] ??= []).push(children[i]);
  });
  return Object.keys(sets)
    .sort((a, b) => (Number(a) > Number(b) ? -1 : 1))
    .map((key) => sets[key]);
}

function combine(op: 'all' | 'any', nodes: unknown[], children: Predicate[]): Predicate {
  if (children.length === 0) return () => true; // json-rules-engine: an empty all/any passes
  if (children.length === 1) return children[0];
  const sets = prioritySets(nodes, children);
  const wanted = op === 'any';
  return (ctx) => {
    for (const set of sets) {
      // Every member of a set is evaluated (Promise.all), so any of them may throw.
      let decided = false;
      for (const child of set) if (child(ctx) === wanted) decided = true;
      if (decided) return wanted;
    }
    return !wanted;
  };
}

function compileGetter(fact: unknown, params: unknown, path: unknown): Getter {
  const get = factGetter(fact, params === undefined ? {} : params);
  if (!path) return get;
  const resolve = pathResolver(path);
  return (ctx) => resolve(get(ctx));
}

function compileLeaf(node: Node): Predicate {
  const { fact, operator, value, params, path } = node;
  const lhs = compileGetter(fact, params, path);
  const ref = value !== null && typeof value === 'object' && has(value, 'fact') ? (value as Node) : null;
  const rhs: Getter = ref ? compileGetter(ref.fact, ref.params, ref.path) : () => value;
  const evaluate = typeof operator === 'string' ? OPERATORS.get(operator) : undefined;
  if (!evaluate) return thrower(`Unknown operator: ${String(operator)}`);
  return (ctx) => {
    const right = rhs(ctx);
    return evaluate(lhs(ctx), right, ctx);
  };
}
