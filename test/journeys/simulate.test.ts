import assert from 'node:assert/strict';
import { it } from 'node:test';
import { readWorkspace } from '../../cli/workspace.ts';
import { simulate, type SimulationInput } from '../../engine/simulation/simulate.ts';
import { generateStream } from '../../fixtures/generate.ts';

/** The demo workspace over a generated stream (with anonymous visits, identifies and follows). */
async function demo(users: number): Promise<SimulationInput> {
  const { docs } = await readWorkspace('fixtures/workspace');
  return {
    segments: (docs.get('segment') ?? []) as unknown as SimulationInput['segments'],
    tagRules: (docs.get('tagRule') ?? []) as unknown as SimulationInput['tagRules'],
    templates: (docs.get('template') ?? []) as unknown as SimulationInput['templates'],
    lifecycle: docs.get('lifecycle')?.[0] as unknown as SimulationInput['lifecycle'],
    journeys: (docs.get('journey') ?? []) as unknown as SimulationInput['journeys'],
    messages: [...generateStream({ users, days: 20, seed: 'split', start: '2026-10-01' })],
  };
}

it('a stream split between worker threads by user gives exactly the result of one thread', async () => {
  const input = await demo(300);
  const one = await simulate({ ...input, workers: 1 });
  assert.ok(one.messages > 5000, `${one.messages} messages`);
  const entered = Object.values(one.journeys).filter((j) => j.entered > 0).length;
  assert.ok(entered >= 4, `${entered} demo journeys have users`);
  for (const workers of [2, 3]) {
    const progress: number[] = [];
    const split = await simulate({ ...input, workers, onProgress: (done) => progress.push(done) });
    assert.deepEqual(split, one, `${workers} workers`);
    // Timelines in the same order too (the JSON a user sees is the same).
    assert.deepEqual(Object.keys(split.timelines), Object.keys(one.timelines));
    assert.equal(progress.at(-1), one.messages, 'progress ends at the total');
  }
});

it('a refused message is named by its place in the stream, however many threads replay it', async () => {
  const input = await demo(60);
  const messages = [...input.messages] as Record<string, unknown>[];
  const bad = Math.floor(messages.length / 2);
  messages[bad] = { ...messages[bad], type: 'purchase' };
  const errors = [];
  for (const workers of [1, 2]) {
    const error = await simulate({ ...input, messages, workers }).then(
      () => null,
      (e: unknown) => e as { status?: number; faults?: { pointer: string }[] },
    );
    assert.ok(error, `${workers} workers: refused`);
    errors.push({ status: error.status, pointers: error.faults?.map((f) => f.pointer) });
  }
  assert.equal(errors[0].status, 400);
  assert.ok(
    errors[0].pointers?.some((p) => p.startsWith(`/batch/${bad}`)),
    JSON.stringify(errors[0]),
  );
  assert.deepEqual(errors[1], errors[0]);
});
