/** The rule language: json-rules-engine conditions over Tideline's fact vocabulary. */
export type * from './types.ts';
export { compile, referenceEvaluator, type Evaluator, type Predicate } from './evaluate.ts';
export { validateCondition, OPERATOR_NAMES } from './validate.ts';
export { dependencies, type ConditionDependencies } from './dependencies.ts';
export { FACT_NAMES, factValue, type FactName } from './facts.ts';
export {
  customOperators,
  CUSTOM_OPERATOR_NAMES,
  type OperatorContext,
  type OperatorFn,
} from './operators.ts';
export { builtinOperators, BUILTIN_OPERATOR_NAMES } from './builtin-operators.ts';
export { durationMs, isValidDuration, parseDurationMs } from './durations.ts';
