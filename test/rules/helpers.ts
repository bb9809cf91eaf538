import assert from 'node:assert/strict';
import { compile, referenceEvaluator } from '../../rules/evaluate.ts';
import type { Condition, FactContext } from '../../rules/types.ts';

/** The result of `condition` in `ctx`, asserting that both evaluators give it. */
export async function evaluateBoth(condition: Condition, ctx: FactContext): Promise<boolean> {
  const reference = await referenceEvaluator(condition)(ctx);
  assert.equal(
    compile(condition)(ctx),
    reference,
    `compiled and reference differ on ${JSON.stringify(condition)}`,
  );
  return reference;
}
