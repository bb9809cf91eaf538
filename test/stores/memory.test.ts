import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import type { ProfilePage } from '../../ports/store.ts';
import { createCommit, makeProfile, updateCommit } from '../../dev/profiles.ts';
import { CONFORMANCE_OPTIONS, storeConformance } from './conformance.ts';

/** A memory store snapshotting to its own folder; what names an erased user is looked for in its snapshot. */
async function snapshotted(options: ConstructorParameters<typeof MemoryStore>[0]) {
  const dataDir = await mkdtemp(join(tmpdir(), 'tideline-store-'));
  const store = new MemoryStore({ ...options, dataDir });
  return {
    store,
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
    async traces(needles: readonly string[]) {
      await store.snapshot();
      const text = await readFile(join(dataDir, 'store.json'), 'utf8');
      return needles.filter((n) => text.includes(n));
    },
  };
}

storeConformance('memory', (options) => snapshotted(options));
// The simulator's store: objects, not deflated profiles and JSON events.
storeConformance('memory (uncompressed)', (options) => snapshotted({ ...options, compress: false }));

describe('memory store sharing its profiles (the simulator: one writer, one decision at a time)', () => {
  it('hands out the stored objects, and refuses a commit that overlapped another instead of reporting a conflict', async () => {
    const store = new MemoryStore({ ...CONFORMANCE_OPTIONS, compress: false, shareProfiles: true });
    await store.init();
    await store.commit([createCommit(makeProfile('u:ada'))]);
    const first = (await store.getProfiles(['u:ada'])).get('u:ada')!;
    const again = (await store.getProfiles(['u:ada'])).get('u:ada')!;
    assert.equal(first, again, 'the same object, not a copy');
    // One decision commits...
    first.tags = ['vip'];
    first.version = 2;
    await store.commit([updateCommit(first, 1)]);
    // ... a second one that read before that commit must not retry from the first one's changes.
    await assert.rejects(store.commit([updateCommit({ ...again, version: 2 }, 1)]), /overlapping decisions/);
    assert.deepEqual((await store.getProfiles(['u:ada'])).get('u:ada')!.tags, ['vip']);
    await store.close();
  });
});

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
        profiles.map((profile, i) =>
          createCommit(profile, [event(`${profile.key}-1`, 10 + i), event(`${profile.key}-2`, i)]),
        ),
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

  it("rebuilds the due index from the snapshot's profiles", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tideline-store-'));
    try {
      const first = new MemoryStore({ ...CONFORMANCE_OPTIONS, dataDir });
      await first.init();
      const profiles = [
        makeProfile('u:ada', { checkAt: 2000 }),
        makeProfile('u:bob', { checkAt: 1000 }),
        makeProfile('u:cy', { checkAt: null }),
        makeProfile('u:dee'),
      ];
      await first.commit(profiles.map((profile) => createCommit(profile)));
      await first.eraseProfile('u:ada');
      await first.close();
      const second = new MemoryStore({ ...CONFORMANCE_OPTIONS, dataDir });
      await second.init();
      assert.deepEqual(await second.dueProfiles(Infinity, 10), [{ key: 'u:bob', at: 1000 }]);
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

describe('memory store scans', () => {
  it('pages through 100,000 profiles quickly, also while profiles are created and erased', async () => {
    const store = new MemoryStore(CONFORMANCE_OPTIONS);
    await store.init();
    const n = 20_000;
    const template = makeProfile('u:template');
    for (let i = 0; i < n; i += 5000) {
      const commits = Array.from({ length: 5000 }, (_, j) => {
        const key = `u:user-${((i + j) * 7919) % n}`;
        return createCommit({ ...template, key });
      });
      await store.commit(commits);
    }
    // Most of a scan is decoding the profiles: getProfiles of them all is the floor.
    const decodeStarted = performance.now();
    const all = await store.getProfiles(Array.from({ length: n }, (_, i) => `u:user-${i}`));
    const decodeMs = performance.now() - decodeStarted;
    assert.equal(all.size, n);
    console.log(`memory getProfiles of the same ${n} profiles (decoding them): ${Math.round(decodeMs)} ms`);
    const scan = async (limit: number, churn: boolean) => {
      const started = performance.now();
      let count = 0;
      let previous = '';
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: ProfilePage = await store.scanProfiles(cursor, limit);
        for (const p of page.profiles) {
          assert.ok(p.key > previous, 'out of order');
          previous = p.key;
        }
        count += page.profiles.length;
        cursor = page.cursor;
        if (churn && cursor !== null) {
          // A new profile and an erased one (both past this page) on every page.
          const key = `u:zz-new-${pages}`;
          await store.commit([createCommit({ ...template, key })]);
          await store.eraseProfile(`u:user-${pages}`);
        }
        pages++;
      } while (cursor !== null);
      return { ms: performance.now() - started, count, pages };
    };
    for (const [limit, churn] of [
      [1000, false],
      [100, false],
      [100, true],
    ] as const) {
      const { ms, count, pages } = await scan(limit, churn);
      console.log(
        `memory scan of ${n} profiles, pages of ${limit}${churn ? ', a create and an erase per page' : ''}: ` +
          `${pages} pages, ${count} profiles, ${Math.round(ms)} ms`,
      );
      // Speed is printed, not asserted (benchmarks measure; tests check behaviour).
      if (!churn) assert.equal(count, n);
    }
    await store.close();
  });
});
