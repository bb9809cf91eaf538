import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

const BIN = fileURLToPath(new URL('../../bin/tideline.mjs', import.meta.url));

const template = (id: string, text: string) => ({
  id,
  name: id,
  channel: 'sms',
  content: { signName: '潮汐优选', templateCode: 'SMS_1', params: {}, text },
});

describe('templates in a sandbox, over the API', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine();
  });
  after(() => t.close());

  it('refuses a template that includes a file, with the field, and saves nothing', async () => {
    const res = await t.request('POST', '/v1/templates', {
      key: KEYS.admin,
      body: template('leak', "{% include '.gitignore' %}"),
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.errors[0].pointer, '/content/text');
    assert.match(res.body.errors[0].message, /include %\} is not allowed/);
    assert.equal((await t.request('GET', '/v1/templates/leak', { key: KEYS.admin })).status, 404);
  });

  it('refuses the huge loop while /health keeps answering within a second', async () => {
    const health = async () => {
      const started = performance.now();
      const res = await fetch(`${t.url}/health`);
      assert.equal(res.status, 200);
      return performance.now() - started;
    };
    const saving = t.request('POST', '/v1/templates', {
      key: KEYS.admin,
      body: template('loop', '{% for i in (1..100000000) %}{{ i }}{% endfor %}'),
    });
    const nested = t.request('POST', '/v1/templates', {
      key: KEYS.admin,
      body: template(
        'nested',
        '{% for i in (1..3000) %}{% for j in (1..300) %}{{ j }}{% endfor %}{% endfor %}',
      ),
    });
    const waits = await Promise.all([health(), health(), health()]);
    const [loop, slow] = await Promise.all([saving, nested]);
    assert.equal(loop.status, 400);
    assert.match(loop.body.errors[0].message, /memory alloc limit exceeded/);
    assert.equal(slow.status, 400);
    assert.match(slow.body.errors[0].message, /render limit exceeded/);
    for (const ms of waits) assert.ok(ms < 1000, `/health answered in ${Math.round(ms)} ms`);
    assert.ok((await health()) < 1000);
  });
});

it('tideline validate refuses include, render and layout with the file and pointer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-sandbox-'));
  try {
    const file = join(dir, 'leak.json');
    writeFileSync(
      file,
      JSON.stringify({
        $schema: '../schemas/template.schema.json',
        version: 1,
        ...template('leak', "{% render '/etc/passwd' %}"),
      }),
    );
    const run = spawnSync(process.execPath, [BIN, 'validate', file], { encoding: 'utf8' });
    assert.equal(run.status, 1, run.stdout);
    assert.match(
      run.stdout,
      new RegExp(`${file}:1:\\d+: /content/text: Liquid: \\{% render %\\} is not allowed`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
