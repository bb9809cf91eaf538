/**
 * The compiled predicate must agree with json-rules-engine (the reference) on generated
 * conditions and facts: same result, or both throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { compile, referenceEvaluator } from '../../rules/evaluate.ts';
import { condition, materialised, randomContext } from './generate.ts';
import type { FactContext } from '../../rules/types.ts';

type Outcome = boolean | 'throws';

async function outcome(run: () => Promise<boolean> | boolean): Promise<Outcome> {
  try {
    return await run();
  } catch {
    return 'throws';
  }
}

test('compiled predicates agree with json-rules-engine on 2,500 generated conditions', async () => {
  const cases = Array.from({ length: 2500 }, () => ({ condition: condition(0), ctx: randomContext() }));
  const tally = { true: 0, false: 0, throws: 0 };
  for (const [i, { condition: c, ctx }] of cases.entries()) {
    const compiled = await outcome(() => compile(c)(ctx));
    const reference = await outcome(() => referenceEvaluator(c)(ctx));
    assert.equal(compiled, reference, `case ${i}: ${JSON.stringify(c)}\nctx: ${JSON.stringify(ctx)}`);
    tally[String(reference) as keyof typeof tally]++;
  }
  console.log('differential outcomes', tally);
  // The generator must exercise both answers, not mostly errors.
  assert.ok(tally.true > 500 && tally.false > 500 && tally.throws < 250, JSON.stringify(tally));
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('speed: compiled vs json-rules-engine (reported, not asserted)', async () => {
  // Conditions that evaluate without error; a throw costs an Error (stack capture) in both evaluators.
  const cases: {
    predicate: (ctx: FactContext) => boolean;
    reference: (ctx: FactContext) => Promise<boolean>;
    ctx: FactContext;
  }[] = [];
  while (cases.length < 300) {
    const c = condition(0);
    const ctx = materialised(randomContext());
    if ((await outcome(() => referenceEvaluator(c)(ctx))) !== 'throws') {
      cases.push({ predicate: compile(c), reference: referenceEvaluator(c), ctx });
    }
  }
  const compiledRuns: number[] = [];
  for (let run = 0; run < 7; run++) {
    const start = performance.now();
    for (let r = 0; r < 100; r++) for (const { predicate, ctx } of cases) predicate(ctx);
    compiledRuns.push((performance.now() - start) / (100 * cases.length));
  }
  const referenceRuns: number[] = [];
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    for (const { reference, ctx } of cases) await reference(ctx);
    referenceRuns.push((performance.now() - start) / cases.length);
  }
  const [compiled, reference] = [median(compiledRuns), median(referenceRuns)];
  console.log(
    `median per evaluation: json-rules-engine ${(reference * 1000).toFixed(1)} µs, compiled ${(compiled * 1000).toFixed(2)} µs, ratio ${Math.round(reference / compiled)}x`,
  );
});
