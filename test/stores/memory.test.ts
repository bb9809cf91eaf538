import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { makeProfile } from '../helpers/profiles.ts';
import { CONFORMANCE_OPTIONS, storeConformance } from './conformance.ts';

storeConformance('memory', async (options) => ({ store: new MemoryStore(options), cleanup: async () => {} }));

describe('memory store snapshots', () => {
  it('writes a snapshot on close that a new store on the same dataDir reloads', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tideline-store-'));
    try {
      const first = new MemoryStore({ ...CONFORMANCE_OPTIONS, dataDir });
      await first.init();
      const now = Date.now();
      const event = (messageId: string, minutes: number) => ({
        messageId,
        type: 'track' as const,
        event: 'Signed Up',
        properties: { plan: '专业版', nested: { a: [1, null] } },
        timestamp: now - minutes * 60_000,
        receivedAt: now - minutes * 60_000,
      });
      const profiles = ['u:ada', 'u:bob', 'a:anon'].map((key) => makeProfile(key));
      await first.commit(
        profiles.map((profile, i) => ({
          key: profile.key,
          expectedVersion: 0,
          profile,
          events: [event(`${profile.key}-1`, 10 + i), event(`${profile.key}-2`, i)],
          messageIds: [`${profile.key}-1`, `${profile.key}-2`],
        })),
      );
      await first.linkAlias('anon-1', 'ada');
      await first.close();
      assert.deepEqual(await readdir(dataDir), ['store.json']);

      const second = new MemoryStore({ ...CONFORMANCE_OPTIONS, dataDir });
      await second.init();
      const keys = profiles.map((p) => p.key);
      assert.deepEqual(await second.getProfiles(keys), await first.getProfiles(keys));
      assert.equal(await second.countProfiles(), 3);
      for (const key of keys) {
        assert.deepEqual(await second.recentEvents(key, 10), await first.recentEvents(key, 10));
      }
      const messageIds = keys.flatMap((key) => [`${key}-1`, `${key}-2`, `${key}-3`]);
      assert.deepEqual(await second.appliedMessageIds(messageIds), await first.appliedMessageIds(messageIds));
      assert.deepEqual(await second.getAliases(['anon-1']), new Map([['anon-1', 'ada']]));
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('starts empty without a snapshot, and writes none while nothing changed', async () => {
    const dataDir = join(tmpdir(), `tideline-store-missing-${process.pid}-${Date.now()}`);
    try {
      const store = new MemoryStore({ ...CONFORMANCE_OPTIONS, dataDir });
      await store.init();
      assert.equal(await store.countProfiles(), 0);
      await store.close();
      assert.equal(existsSync(dataDir), false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
