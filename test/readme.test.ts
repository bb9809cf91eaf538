import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { spawnTideline, type TidelineProcess } from '../dev/processes.ts';

interface Example {
  command: string;
  expected: string;
}

/**
 * The curl examples of docs/api.md ("API by example", linked from the README), each with the output
 * its `# ` lines promise, in the page's order.
 */
function examples(): Example[] {
  const page = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
  const out: Example[] = [];
  for (const block of page.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let current: Example | null = null;
    for (const line of block[1].split('\n')) {
      if (line.startsWith('curl ')) {
        current = { command: line, expected: '' };
        out.push(current);
      } else if (line.startsWith('# ') && current) {
        current.expected += line.slice(2).trim();
      } else if (current && !current.expected && line.trim()) {
        current.command += `\n${line}`;
      }
    }
  }
  return out;
}

let engine: TidelineProcess;
let port = '';
let dataDir = '';
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tideline-readme-'));
  engine = spawnTideline('start', { TIDELINE_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  port = new URL(await engine.url).port;
});
after(async () => {
  await engine.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('every curl example in docs/api.md returns what the page says', async () => {
  const list = examples();
  assert.ok(list.length >= 8, `found ${list.length} examples`);
  for (const { command, expected } of list) {
    const output = execFileSync('bash', ['-c', command.replaceAll('localhost:3000', `localhost:${port}`)], {
      encoding: 'utf8',
    }).trim();
    if (!expected) {
      assert.doesNotThrow(() => JSON.parse(output), `${command}\n-> ${output}`);
      continue;
    }
    // "..." on the page elides part of the output; every other fragment must appear as written.
    for (const fragment of expected
      .split('...')
      .map((f) => f.trim())
      .filter((f) => f.length > 1)) {
      assert.ok(output.includes(fragment), `${command}\nexpected to contain: ${fragment}\ngot: ${output}`);
    }
    // The first curl of each write settles before reads: let the worker apply what was accepted.
    await new Promise((r) => setTimeout(r, 100));
  }
});

it('the start banner names the console, and the server’s address leads to it', async () => {
  const url = await engine.url;
  assert.match(engine.output(), new RegExp(`Console .*: ${url}/console/`));
  const res = await fetch(`${url}/`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), '/console/');
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
});
