/**
 * The reference evaluator: json-rules-engine itself, with Tideline's facts and custom operators.
 * Its operators cannot see the evaluation time or timezone, so an engine is built per evaluation;
 * speed does not matter here (compile.ts is the fast path).
 */
import { Engine, type TopLevelCondition } from 'json-rules-engine';
import { factGetter, FACT_NAMES } from './facts.ts';
import { customOperators } from './operators.ts';
import type { Condition, FactContext } from './types.ts';

// Decorated operator names (`someFact:equal`) are not part of Tideline's language.
const DECORATORS = ['someFact', 'someValue', 'everyFact', 'everyValue', 'swap', 'not'];

const isBoolean = (c: object): boolean => ['all', 'any', 'not'].some((k) => Object.hasOwn(c, k));

export function referenceEvaluator(condition: Condition): (ctx: FactContext) => Promise<boolean> {
  return async (ctx) => {
    const engine = new Engine([], { allowUndefinedFacts: true });
    for (const name of DECORATORS) engine.removeOperatorDecorator(name);
    for (const [name, fn] of Object.entries(customOperators)) {
      engine.addOperator(name, (factValue: unknown, value: unknown) => fn(factValue, value, ctx));
    }
    for (const name of FACT_NAMES) {
      engine.addFact(name, (params: unknown) => factGetter(name, params)(ctx));
    }
    // json-rules-engine mutates conditions (leaf priorities); a rule's root must be all/any/not.
    const copy = structuredClone(condition);
    const conditions = (isBoolean(copy) ? copy : { all: [copy] }) as TopLevelCondition;
    engine.addRule({ conditions, event: { type: 'match' } });
    const { results } = await engine.run();
    return results.length === 1;
  };
}
