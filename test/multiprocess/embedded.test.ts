import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KEYS, waitFor } from '../../dev/engine.ts';
import { postBatch, spawnTideline } from '../../dev/processes.ts';
import { interleavedStream } from '../helpers/stream.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function readUser(url: string, userId: string) {
  const res = await fetch(`${url}/v1/users/${userId}?limit=1000`, {
    headers: { authorization: `Basic ${Buffer.from(`${KEYS.read}:`).toString('base64')}` },
  });
  return res.status === 200
    ? ((await res.json()) as { profile: { eventCount: number }; events: unknown[] })
    : null;
}

async function assertAllApplied(url: string, stream: ReturnType<typeof interleavedStream>): Promise<void> {
  for (const [userId, count] of stream.perUser) {
    await waitFor(
      async () => (await readUser(url, userId))?.profile.eventCount === count,
      20_000,
      `${userId}'s events`,
    );
    const user = await readUser(url, userId);
    assert.equal(user?.events.length, count, `${userId} has each event once`);
  }
}

describe('the embedded engine keeps every acknowledged event', { timeout: 120_000 }, () => {
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`across a ${signal} right after the acknowledgements`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'tideline-embedded-'));
      dirs.push(dataDir);
      // A long snapshot interval: what survives the kill must come from the journal (or the final snapshot).
      const env = { TIDELINE_DATA_DIR: dataDir, TIDELINE_DEMO: 'false', TIDELINE_SNAPSHOT_INTERVAL: 'PT1H' };
      const stream = interleavedStream(100, 10, signal === 'SIGKILL' ? 1 : 2);
      const first = spawnTideline('start', env);
      const url = await first.url;
      for (let i = 0; i < stream.messages.length; i += 100) {
        assert.equal(await postBatch(url, KEYS.write, stream.messages.slice(i, i + 100)), 200);
      }
      if (signal === 'SIGKILL') await first.kill();
      else assert.equal(await first.stop(), 0);

      const second = spawnTideline('start', env);
      try {
        await assertAllApplied(await second.url, stream);
      } finally {
        assert.equal(await second.stop(), 0);
      }
      // A clean stop leaves a snapshot that covers everything, and no journal to replay.
      const journal = readdirSync(join(dataDir, 'journal'));
      assert.deepEqual(journal, [], `journal segments left: ${journal.join(', ')}`);
    });
  }
});
