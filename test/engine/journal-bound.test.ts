import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { KEYS, startTestEngine, waitFor } from '../../dev/engine.ts';

const journalBytes = (dataDir: string) => {
  const dir = join(dataDir, 'journal');
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
};

it('the embedded journal stays bounded while only duplicates arrive', { timeout: 60_000 }, async () => {
  const t = await startTestEngine({ snapshotIntervalMs: 200 });
  try {
    const batch = Array.from({ length: 50 }, (_, i) => ({
      type: 'track',
      userId: `dup-${i}`,
      event: 'viewed',
      messageId: `dup-${i}`,
      properties: { padding: 'x'.repeat(200) },
    }));
    const post = async () =>
      assert.equal((await t.request('POST', '/v1/batch', { key: KEYS.write, body: { batch } })).status, 200);
    await post();
    await t.settle();
    // From here on nothing changes the store: every message is one already applied.
    let posted = 0;
    let largest = 0;
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      await post();
      posted++;
      largest = Math.max(largest, journalBytes(t.config.dataDir));
    }
    const oneBatch = Buffer.byteLength(JSON.stringify({ messages: batch }));
    assert.ok(posted > 20, `only ${posted} batches posted`);
    // Each snapshot interval (200 ms) drops what the last snapshot covers.
    assert.ok(
      largest < (posted * oneBatch) / 3,
      `the journal reached ${largest} bytes for ${posted * oneBatch} bytes posted`,
    );
    await waitFor(async () => journalBytes(t.config.dataDir) === 0, 5_000, 'the journal to empty');
    const { body } = await t.request('GET', '/v1/users/dup-1', { key: KEYS.read });
    assert.equal(body.events.length, 1);
  } finally {
    await t.close();
  }
});

it(
  'jobs still queued at a snapshot stay in the journal, once, and are applied after a restart',
  {
    timeout: 60_000,
  },
  async () => {
    // No worker: whatever is accepted stays queued.
    const first = await startTestEngine({ snapshotIntervalMs: 100 }, { api: true, worker: false });
    const { dataDir } = first.config;
    const lines = () =>
      readdirSync(join(dataDir, 'journal'))
        .map((f) => readFileSync(join(dataDir, 'journal', f), 'utf8'))
        .join('')
        .split('\n')
        .filter(Boolean);
    for (let i = 0; i < 3; i++) {
      const body = { userId: `queued-${i}`, event: 'viewed', messageId: `queued-${i}` };
      assert.equal((await first.request('POST', '/v1/track', { key: KEYS.write, body })).status, 200);
      await waitFor(async () => lines().length === i + 1, 5_000, 'the job in the journal');
    }
    // Several snapshots later: each wrote the three queued jobs again and dropped the older segments.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(lines().length, 3);
    await first.engine.stop();
    assert.equal(lines().length, 3);

    const second = await startTestEngine({ dataDir });
    try {
      await second.settle();
      for (let i = 0; i < 3; i++) {
        const { status } = await second.request('GET', `/v1/users/queued-${i}`, { key: KEYS.read });
        assert.equal(status, 200);
      }
    } finally {
      await second.close();
    }
  },
);
