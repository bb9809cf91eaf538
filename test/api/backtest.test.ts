/**
 * The backtest: a journey replayed on the calls the store kept for a past period (the API and
 * `tideline simulate --from-store`), and the event export it reads, checked against `tideline simulate`
 * of the same journey over the exported file and over the original stream.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DEMO_WORKSPACE } from '../../cli/config.ts';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BIN = fileURLToPath(new URL('../../bin/tideline.mjs', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../fixtures/sample-events.ndjson', import.meta.url));
const JOURNEY = join(DEMO_WORKSPACE, 'journeys', 'cart_abandonment.json');
const auth = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

function tideline(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('backtest over the stored history', () => {
  let e: TestEngine;
  let dir: string;
  let since: string;
  let until: string;
  let original: string;
  before(async () => {
    e = await startTestEngine({ workspaceDir: DEMO_WORKSPACE });
    dir = mkdtempSync(join(tmpdir(), 'tideline-backtest-'));
    // The demo's sample, moved (whole days) to end an hour ago, imported as history.
    const lines = readFileSync(SAMPLE, 'utf8').split('\n').filter(Boolean);
    const times = lines.map((l) => Date.parse(JSON.parse(l).timestamp));
    const shift = Math.floor((Date.now() - HOUR - Math.max(...times)) / DAY) * DAY;
    const moved = lines.map((l) => {
      const m = JSON.parse(l);
      return JSON.stringify({ ...m, timestamp: new Date(Date.parse(m.timestamp) + shift).toISOString() });
    });
    original = join(dir, 'original.ndjson');
    writeFileSync(original, `${moved.join('\n')}\n`);
    since = new Date(Math.min(...times) + shift).toISOString();
    until = new Date(Date.now()).toISOString();
    const res = await fetch(`${e.url}/v1/import?until=${encodeURIComponent(until)}`, {
      method: 'POST',
      headers: { authorization: auth(KEYS.admin), 'content-type': 'application/x-ndjson' },
      body: moved.join('\n'),
    });
    assert.equal(res.status, 202, await res.text());
    await e.settle(120_000);
  });
  after(async () => {
    await e.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const backtest = async (body: object, key: string = KEYS.admin) => {
    const res = await fetch(`${e.url}/v1/journeys/backtest`, {
      method: 'POST',
      headers: { authorization: auth(key), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const journey = () => JSON.parse(readFileSync(JOURNEY, 'utf8'));

  it('gives the totals `tideline simulate` gives over the same calls exported to a file, and over the original stream', async () => {
    const { status, body } = await backtest({ journey: journey(), since, until, users: 3 });
    assert.equal(status, 200, JSON.stringify(body));
    const totals = body.journeys.cart_abandonment;
    assert.ok(totals.entered > 10, `entered ${totals.entered}`);
    assert.ok(
      Object.values(totals.sends as Record<string, number>).some((n) => n > 0),
      'something sent',
    );
    assert.equal(Object.keys(body.timelines).length, 3);

    const res = await fetch(
      `${e.url}/v1/events/export?since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`,
      { headers: { authorization: auth(KEYS.admin) } },
    );
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
    const exported = join(dir, 'exported.ndjson');
    const text = await res.text();
    writeFileSync(exported, text);
    // Every call of the sample is there once; the engine's own events are not.
    const calls = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const sampleIds = readFileSync(original, 'utf8').split('\n').filter(Boolean).length;
    assert.equal(new Set(calls.map((c) => c.messageId)).size, calls.length);
    assert.ok(calls.length >= sampleIds - 50 && calls.length <= sampleIds, `${calls.length} of ${sampleIds}`);
    assert.ok(calls.every((c) => c.type !== 'internal' && !String(c.event ?? '').startsWith('journey_')));

    for (const events of [exported, original]) {
      const run = await tideline([
        'simulate',
        '--journey',
        JOURNEY,
        '--events',
        events,
        '--from',
        since,
        '--to',
        until,
        '--json',
      ]);
      assert.equal(run.code, 0, run.err);
      assert.deepEqual(JSON.parse(run.out).journeys.cart_abandonment, totals, events);
    }
  });

  it('`tideline simulate --from-store` prints the backtest; a typo in the draft is shown at its line', async () => {
    const run = await tideline([
      'simulate',
      '--journey',
      JOURNEY,
      '--from-store',
      '--since',
      since,
      '--until',
      until,
      '--url',
      e.url,
      '--key',
      KEYS.admin,
      '--users',
      '2',
    ]);
    assert.equal(run.code, 0, run.err);
    const { body } = await backtest({ journey: journey(), since, until });
    assert.match(run.out, new RegExp(`entered  ${body.journeys.cart_abandonment.entered} `));
    assert.match(run.out, /Timelines \(2 of /);

    const draft = readFileSync(JOURNEY, 'utf8').replace('"type": "wait"', '"type": "wiat"');
    const file = join(dir, 'draft.json');
    writeFileSync(file, draft);
    const bad = await tideline([
      'simulate',
      '--journey',
      file,
      '--from-store',
      '--url',
      e.url,
      '--key',
      KEYS.admin,
    ]);
    assert.equal(bad.code, 1);
    const line = draft.split('\n').findIndex((l) => l.includes('"wiat"')) + 1;
    assert.match(bad.err, new RegExp(`${file}:${line}:\\d+: /steps/\\d+/type: .*did you mean 'wait'\\?`));
  });

  it('refuses what it cannot do with a clear error and changes nothing', async () => {
    const before = await backtest({ journey: journey(), since, until });
    assert.equal((await backtest({ journey: journey(), since: 'last month' })).status, 400);
    const reversed = await backtest({ journey: journey(), since: until, until: since });
    assert.equal(reversed.status, 400);
    assert.equal(reversed.body.errors[0].pointer, '/since');
    assert.equal((await backtest({ journey: journey(), since }, KEYS.read)).status, 403);
    const noJourney = await backtest({ since });
    assert.equal(noJourney.status, 400);
    assert.deepEqual(await backtest({ journey: journey(), since, until }), before);
    const exportRead = await fetch(`${e.url}/v1/events/export`, {
      headers: { authorization: auth(KEYS.read) },
    });
    assert.equal(exportRead.status, 403);
  });
});
