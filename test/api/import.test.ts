/**
 * Import mode over HTTP: `POST /v1/import` with the admin key, NDJSON or a Segment batch, a job to
 * follow; the `tideline import` command; and the demo, which loads its sample through it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { runImport } from '../../cli/import.ts';
import { DEMO_WORKSPACE } from '../../cli/config.ts';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';
import type { StoredEvent } from '../../model/events.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function post(url: string, path: string, body: string, type: string, key: string = KEYS.admin) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, 'content-type': type },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const line = (m: object) => JSON.stringify(m);

describe('POST /v1/import', () => {
  let e: TestEngine;
  before(async () => {
    e = await startTestEngine();
  });
  after(() => e.close());

  it('imports NDJSON as a job to follow; a line that is not JSON is refused alone, with its number', async () => {
    const t = Date.now() - 10 * DAY;
    const ndjson = [
      line({
        type: 'identify',
        userId: 'imp-1',
        traits: { city: 'Hangzhou' },
        timestamp: new Date(t).toISOString(),
      }),
      '{not json',
      line({
        type: 'track',
        userId: 'imp-1',
        event: 'order_paid',
        properties: { amount: 5 },
        timestamp: new Date(t + HOUR).toISOString(),
      }),
    ].join('\n');
    const { status, body } = await post(e.url, '/v1/import', ndjson, 'application/x-ndjson');
    assert.equal(status, 202, JSON.stringify(body));
    assert.equal(body.accepted, 2);
    assert.equal(body.rejected.length, 1);
    assert.equal(body.rejected[0].index, 1);
    assert.match(body.rejected[0].errors[0].message, /line 2 is not JSON/);
    await waitFor(
      async () => (await e.request('GET', body.import.href)).body.state === 'completed',
      10_000,
      'the import',
    );
    const job = (await e.request('GET', body.import.href)).body;
    assert.equal(job.applied, 2);
    assert.equal(job.percent, 100);
    const user = await e.request('GET', '/v1/users/imp-1');
    assert.equal(user.status, 200);
    assert.equal(user.body.profile.traits.city, 'Hangzhou');
    const events = (await e.engine.store.recentEvents('u:imp-1', 100)) as StoredEvent[];
    assert.ok(
      events.filter((x) => x.type !== 'internal').every((x) => x.imported),
      'imported calls say so',
    );
  });

  it('refuses what it cannot take: a future until, a write key, strict mode with a bad message', async () => {
    const batch = JSON.stringify({
      batch: [{ type: 'track', userId: 'imp-2', event: 'x', timestamp: new Date().toISOString() }],
    });
    const future = await post(
      e.url,
      `/v1/import?until=${new Date(Date.now() + DAY).toISOString()}`,
      batch,
      'application/json',
    );
    assert.equal(future.status, 400);
    assert.equal(future.body.errors[0].pointer, '/until');
    const writeKey = await post(e.url, '/v1/import', batch, 'application/json', KEYS.write);
    assert.equal(writeKey.status, 403);
    const strict = await post(
      e.url,
      '/v1/import?strict=true',
      JSON.stringify({ batch: [{ type: 'track', userId: 'imp-2', timestamp: new Date().toISOString() }] }),
      'application/json',
    );
    assert.equal(strict.status, 400);
    assert.equal(strict.body.errors[0].pointer, '/batch/0/event');
    const profile = await e.request('GET', '/v1/users/imp-2');
    assert.equal(profile.status, 404, 'nothing refused was imported');
  });

  it('tideline import sends a file by whole users, follows the jobs and sums up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tideline-import-'));
    try {
      const file = join(dir, 'history.ndjson');
      const t = Date.now() - 20 * DAY;
      const lines: string[] = [];
      for (let u = 0; u < 30; u++)
        for (let k = 0; k < 5; k++)
          lines.push(
            line({
              type: 'track',
              userId: `cli-${u}`,
              event: 'product_viewed',
              messageId: `cli-${u}-${k}`,
              timestamp: new Date(t + (k * 30 + u) * 60_000).toISOString(),
            }),
          );
      lines.push('oops');
      writeFileSync(file, `${lines.join('\n')}\n`);
      let out = '';
      let err = '';
      const sink = (write: (s: string) => void) =>
        new Writable({
          write(chunk, _enc, done) {
            write(String(chunk));
            done();
          },
        });
      const code = await runImport(
        file,
        { url: e.url, key: KEYS.admin, batch: 40, progress: false },
        sink((s) => (out += s)),
        sink((s) => (err += s)),
      );
      assert.equal(code, 1, 'a refused line makes the exit code 1');
      assert.match(out, /150 messages read, 150 imported, 0 already there, 1 refused/);
      assert.match(err, /refused line 151: not JSON/);
      assert.match(err, /imported 150 of 150 messages/);
      const user = await e.request('GET', '/v1/users/cli-7');
      assert.equal(user.status, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the demo, loaded through import mode', () => {
  it(
    'enrols no one in win-back on a move their own activity refutes, and no one before the import ends',
    { timeout: 120_000 },
    async () => {
      const started = Date.now();
      const e = await startTestEngine({ demo: true, workspaceDir: DEMO_WORKSPACE });
      try {
        await e.settle(90_000);
        // Timers the import planned (hand-overs, moves due since its end) run a moment later.
        await new Promise((r) => setTimeout(r, 2_000));
        const activeWithin = 30 * DAY;
        let enrolled = 0;
        let entries = 0;
        // The demo's history ends a day before its start; its last day is live.
        const importEnd = started - DAY;
        let cursor: string | null = null;
        do {
          const page = await e.engine.store.scanProfiles(cursor, 500);
          for (const profile of page.profiles) {
            const history = await e.engine.store.recentEvents(profile.key, 10_000);
            for (const entry of history.filter((x) => x.event === 'journey_entered')) {
              entries++;
              assert.ok(
                entry.timestamp > importEnd - 60_000,
                `${profile.key} entered ${entry.properties?.journeyId} in imported history`,
              );
            }
            for (const entry of history.filter(
              (x) => x.event === 'journey_entered' && x.properties?.journeyId === 'win_back',
            )) {
              enrolled++;
              const active = history.find(
                (x) =>
                  x.type !== 'internal' &&
                  x.event !== 'identify' &&
                  x.timestamp <= entry.timestamp &&
                  x.timestamp > entry.timestamp - activeWithin,
              );
              assert.equal(
                active,
                undefined,
                `${profile.key} was active (${active?.event}) when win-back enrolled them`,
              );
            }
          }
          cursor = page.cursor;
        } while (cursor !== null);
        console.log(`demo after its import: ${entries} journey entries, ${enrolled} of them in win-back`);
        assert.ok(entries > 0, 'the live day enrols users, so the demo journeys have something to show');
      } finally {
        await e.close();
      }
    },
  );
});
