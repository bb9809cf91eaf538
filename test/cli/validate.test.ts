import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    assert.match(out, new RegExp(`${segment}:1:\\d+: /condition/all/0/params/fn: `));
    assert.match(out, new RegExp(`${segment}:1:\\d+: /condition/all/1/operator: `));
    assert.match(out, new RegExp(`${lifecycle}:1:\\d+: /newFor: `));
    assert.match(out, new RegExp(`${broken}:1:9: /: not valid JSON: expected a value`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('tideline validate places each fault at its line and column, names the step, and suggests the name meant', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-validate-'));
  try {
    const journeys = join(dir, 'journeys');
    mkdirSync(journeys);
    cpSync(join(WORKSPACE, 'segments'), join(dir, 'segments'), { recursive: true });
    cpSync(join(WORKSPACE, 'templates'), join(dir, 'templates'), { recursive: true });
    const welcome = readFileSync(join(WORKSPACE, 'journeys', 'welcome_series.json'), 'utf8');
    const lines = welcome.split('\n');
    const typo = join(journeys, 'typo.json');
    writeFileSync(
      typo,
      welcome
        .replace('"type": "wait"', '"type": "wiat"')
        .replace('"template": "welcome_email"', '"template": "welcom_email"'),
    );
    const syntax = join(journeys, 'syntax.json');
    writeFileSync(syntax, welcome.replace('"name": "Welcome series",', '"name": "Welcome series"'));
    const { status, out } = validate(typo, syntax);
    assert.equal(status, 1, out);
    const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    const columnOf = (text: string, key: string) => lines[lineOf(text) - 1].indexOf(key) + 1;
    const waitLine = lineOf('"type": "wait"');
    assert.match(
      out,
      new RegExp(
        `${typo}:${waitLine}:${columnOf('"type": "wait"', '"type"')}: /steps/1/type: step 'wait_2_days': unknown step type 'wiat', did you mean 'wait'\\?`,
      ),
    );
    const emailLine = lineOf('"template": "welcome_email"');
    assert.match(
      out,
      new RegExp(
        `${typo}:${emailLine}:\\d+: /steps/0/template: step 'welcome_email': unknown template 'welcom_email', did you mean 'welcome_email'\\?`,
      ),
    );
    // The missing comma shows where the parser stopped: at the next member.
    const next = lineOf('"description"');
    assert.match(out, new RegExp(`${syntax}:${next}:3: /: not valid JSON: expected ','`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
