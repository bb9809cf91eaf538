import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

/** A journey's text as an editor holds it: no version (the store assigns it). */
const journeyText = (sendType: string) => `{
  "id": "hello",
  "name": "Hello",
  "trigger": { "type": "event", "event": "signed_up" },
  "steps": [
    { "id": "a_day", "type": "wait", "duration": "P1D" },
    { "id": "bye", "type": "${sendType}", "reason": "done" }
  ]
}`;

describe('checking a document without saving it (POST /v1/<collection>/validate)', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine();
  });
  after(() => t.close());

  const validate = async (path: string, text: string, key = KEYS.read) => {
    const res = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
      body: text,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('answers valid for a good journey, and saves nothing', async () => {
    const res = await validate('/v1/journeys/validate', journeyText('exit'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { valid: true, faults: [] });
    assert.deepEqual((await t.request('GET', '/v1/journeys')).body.journeys, []);
  });

  it('places a misspelt step type at its line, names the step and suggests the type', async () => {
    const res = await validate('/v1/journeys/validate', journeyText('exti'));
    assert.equal(res.status, 200);
    assert.equal(res.body.valid, false);
    const [fault] = res.body.faults;
    assert.equal(fault.line, 7);
    assert.equal(fault.pointer, '/steps/1/type');
    assert.match(fault.message, /^step 'bye': .*did you mean 'exit'/);
  });

  it('gives a syntax error its line and column', async () => {
    const res = await validate('/v1/journeys/validate', '{\n  "id": "x"\n  "name": "y"\n}');
    assert.deepEqual(
      res.body.faults.map((f: any) => [f.line, f.column]),
      [[3, 3]],
    );
  });

  it('tells the console what its key may do', async () => {
    const read = await t.request('GET', '/v1/key', { key: KEYS.read });
    const admin = await t.request('GET', '/v1/key', { key: KEYS.admin });
    assert.deepEqual(read.body.scopes, ['read']);
    assert.deepEqual(admin.body.scopes, ['manage']);
    assert.equal((await t.request('GET', '/v1/key', { key: 'no-such-key' })).status, 401);
  });
});
