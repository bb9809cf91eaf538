/** Two evaluators with one meaning: json-rules-engine (the reference) and the compiled predicate. */
import type { Condition, FactContext } from './types.ts';

export { compile, type Predicate } from './compile.ts';
export { referenceEvaluator } from './reference.ts';

export type Evaluator = (condition: Condition) => (ctx: FactContext) => Promise<boolean> | boolean;
