import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const BIN = fileURLToPath(new URL('../../bin/tideline.mjs', import.meta.url));
const WORKSPACE = fileURLToPath(new URL('../../fixtures/workspace', import.meta.url));

function validate(...paths: string[]) {
  const run = spawnSync(process.execPath, [BIN, 'validate', ...paths], { encoding: 'utf8' });
  return { status: run.status, out: run.stdout };
}

it('tideline validate accepts the demo workspace', () => {
  const { status, out } = validate(WORKSPACE);
  assert.equal(status, 0, out);
  assert.match(out, /high_value_buyers\.json: ok \(segment\)/);
  assert.match(out, /lifecycle\.json: ok \(lifecycle config\)/);
  assert.match(out, /, 0 fault\(s\)/);
});

it('tideline validate prints every fault with file and JSON pointer and exits non-zero', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-validate-'));
  try {
    const segment = join(dir, 'bad-segment.json');
    writeFileSync(
      segment,
      JSON.stringify({
        $schema: '../schemas/segment.schema.json',
        id: 'ok_id',
        version: 1,
        name: 'Bad',
        condition: {
          all: [
            {
              fact: 'aggregate',
              params: { event: 'order_paid', fn: 'median' },
              operator: 'greaterThan',
              value: 1,
            },
            { fact: 'profile', path: '$.traits.city', operator: 'resembles', value: 'x' },
          ],
        },
      }),
    );
    const lifecycle = join(dir, 'lifecycle.json');
    writeFileSync(lifecycle, JSON.stringify({ id: 'lifecycle', version: 1, newFor: 'a week' }));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "id": ');
    const { status, out } = validate(segment, lifecycle, broken);
    assert.equal(status, 1, out);
    assert.match(out, new RegExp(`${segment}:/condition/all/0/params/fn: `));
    assert.match(out, new RegExp(`${segment}:/condition/all/1/operator: `));
    assert.match(out, new RegExp(`${lifecycle}:/newFor: `));
    assert.match(out, new RegExp(`${broken}:/: not valid JSON`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
