/**
 * json-rules-engine 7's default operators, reproduced exactly (dist/engine-default-operators.js)
 * for the compiled evaluator. The casts keep JavaScript's own coercions: `'10' < 9`,
 * `'abc'.indexOf(x)` when `in` is given a string, and a TypeError when it is given null or a number.
 */
export const BUILTIN_OPERATOR_NAMES = [
  'equal',
  'notEqual',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
] as const;
export type BuiltinOperatorName = (typeof BUILTIN_OPERATOR_NAMES)[number];

type Comparable = number;
type Searchable = { indexOf(item: unknown): number };

const indexOf = (container: unknown, item: unknown): number => (container as Searchable).indexOf(item);

// json-rules-engine: Number.parseFloat(factValue).toString() !== 'NaN'
const numeric = (factValue: unknown): boolean => !Number.isNaN(Number.parseFloat(factValue as string));

export const builtinOperators: Record<BuiltinOperatorName, (factValue: unknown, value: unknown) => boolean> =
  {
    equal: (a, b) => a === b,
    notEqual: (a, b) => a !== b,
    in: (a, b) => indexOf(b, a) > -1,
    notIn: (a, b) => indexOf(b, a) === -1,
    contains: (a, b) => Array.isArray(a) && a.indexOf(b) > -1,
    doesNotContain: (a, b) => Array.isArray(a) && a.indexOf(b) === -1,
    lessThan: (a, b) => numeric(a) && (a as Comparable) < (b as Comparable),
    lessThanInclusive: (a, b) => numeric(a) && (a as Comparable) <= (b as Comparable),
    greaterThan: (a, b) => numeric(a) && (a as Comparable) > (b as Comparable),
    greaterThanInclusive: (a, b) => numeric(a) && (a as Comparable) >= (b as Comparable),
  };
