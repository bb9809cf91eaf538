import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredEvent } from '../../model/events.ts';
import type { DueProfile, ProfilePage, Store, StoreOptions } from '../../ports/store.ts';
import type { Profile } from '../../model/profile.ts';
import { createCommit, makeProfile, updateCommit } from '../../dev/profiles.ts';

const HOUR = 3_600_000;
export const CONFORMANCE_OPTIONS: StoreOptions = {
  eventRetentionMs: 7 * 24 * HOUR,
  dedupeHorizonMs: 24 * HOUR,
};

const T0 = Date.now() - 2 * HOUR;

type MakeStore = (options: StoreOptions) => Promise<{
  store: Store;
  cleanup(): Promise<void>;
  /** Where each needle appears in anything the store's backend holds (every key or document). */
  traces?: (needles: readonly string[]) => Promise<string[]>;
}>;

/**
 * The semantics every Store adapter must have. `make` returns a new, empty store (not yet initialised)
 * built with the given options; `cleanup` removes whatever it left behind.
 */
export function storeConformance(name: string, make: MakeStore): void {
  async function withStore(
    fn: (store: Store, traces?: (needles: readonly string[]) => Promise<string[]>) => Promise<void>,
    options = CONFORMANCE_OPTIONS,
  ): Promise<void> {
    const { store, cleanup, traces } = await make(options);
    await store.init();
    try {
      await fn(store, traces);
    } finally {
      await store.close();
      await cleanup();
    }
  }

  describe(`${name} store conformance`, () => {
    it('creates a profile with expectedVersion 0 and reads it back', () =>
      withStore(async (store) => {
        const profile = makeProfile('u:ada');
        assert.deepEqual(await store.commit([createCommit(profile)]), { conflicts: [] });
        assert.deepEqual(await store.getProfiles(['u:ada', 'u:nobody']), new Map([['u:ada', profile]]));
        assert.equal(await store.countProfiles(), 1);
      }));

    it('adds report counts with the commit that carries them, and none of a refused one', () =>
      withStore(async (store) => {
        const first = createCommit(makeProfile('u:ada'));
        first.counts = { 'j:cart': { 'e|1|t|100': 1, 'r|1|t|100|101': 57_750 }, w: { 'o|cart': 2 } };
        await store.commit([first]);
        const second = updateCommit(makeProfile('u:ada', { version: 2 }), 1);
        second.counts = { 'j:cart': { 'e|1|t|100': 2, 'r|1|t|100|101': -750 } };
        const stale = updateCommit(makeProfile('u:ada', { version: 2 }), 1);
        stale.counts = { 'j:cart': { 'e|1|t|100': 1000 } };
        assert.deepEqual(await store.commit([second]), { conflicts: [] });
        assert.deepEqual(await store.commit([stale]), { conflicts: ['u:ada'] });
        assert.deepEqual(
          await store.readCounters('j:cart'),
          new Map([
            ['e|1|t|100', 3],
            ['r|1|t|100|101', 57_000],
          ]),
        );
        assert.deepEqual(await store.readCounters('w'), new Map([['o|cart', 2]]));
        assert.deepEqual(await store.readCounters('j:none'), new Map());
      }));

    it('refuses a second create and writes nothing of it', () =>
      withStore(async (store) => {
        await store.commit([createCommit(makeProfile('u:ada'), [event('m1', 1)])]);
        const second = createCommit(makeProfile('u:ada', { eventCount: 99 }), [event('m2', 2)]);
        assert.deepEqual(await store.commit([second]), { conflicts: ['u:ada'] });
        assert.equal((await store.getProfiles(['u:ada'])).get('u:ada')?.eventCount, 57);
        assert.deepEqual(await store.appliedMessageIds(['m1', 'm2']), new Set(['m1']));
        assert.deepEqual(ids(await store.recentEvents('u:ada', 10)), ['m1']);
      }));

    it('updates with compare-and-set and refuses a stale version, writing nothing of it', () =>
      withStore(async (store) => {
        await store.commit([createCommit(makeProfile('u:ada'))]);
        const v2 = makeProfile('u:ada', { version: 2, tags: ['vip'] });
        assert.deepEqual(await store.commit([updateCommit(v2, 1, [event('m1', 1)])]), { conflicts: [] });
        const stale = makeProfile('u:ada', { version: 2, tags: ['stale'] });
        assert.deepEqual(await store.commit([updateCommit(stale, 1, [event('m2', 2)])]), {
          conflicts: ['u:ada'],
        });
        assert.deepEqual((await store.getProfiles(['u:ada'])).get('u:ada'), v2);
        assert.deepEqual(await store.appliedMessageIds(['m1', 'm2']), new Set(['m1']));
        assert.deepEqual(ids(await store.recentEvents('u:ada', 10)), ['m1']);
      }));

    it('applies the commits of one call independently: conflicts for some, the others written', () =>
      withStore(async (store) => {
        await store.commit([createCommit(makeProfile('u:b'))]);
        const result = await store.commit([
          createCommit(makeProfile('u:a'), [event('a1', 1)]),
          createCommit(makeProfile('u:b'), [event('b1', 1)]),
          updateCommit(makeProfile('u:b', { version: 6 }), 5, [event('b2', 2)]),
          createCommit(makeProfile('u:c'), [event('c1', 1)]),
        ]);
        assert.deepEqual(result.conflicts.sort(), ['u:b', 'u:b']);
        assert.deepEqual([...(await store.getProfiles(['u:a', 'u:b', 'u:c'])).keys()].sort(), [
          'u:a',
          'u:b',
          'u:c',
        ]);
        assert.deepEqual(await store.appliedMessageIds(['a1', 'b1', 'b2', 'c1']), new Set(['a1', 'c1']));
        assert.equal(await store.countProfiles(), 3);
      }));

    it('rejects a commit whose profile version is not expectedVersion + 1', () =>
      withStore(async (store) => {
        await assert.rejects(store.commit([createCommit(makeProfile('u:ada', { version: 3 }))]));
        assert.equal(await store.countProfiles(), 0);
      }));

    it('reports only committed message ids as applied', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.appliedMessageIds([]), new Set());
        assert.deepEqual(await store.appliedMessageIds(['x']), new Set());
        await store.commit([{ ...createCommit(makeProfile('u:ada')), messageIds: ['m1', 'm2'] }]);
        assert.deepEqual(await store.appliedMessageIds(['m1', 'm2', 'm3']), new Set(['m1', 'm2']));
      }));

    it('forgets applied message ids after the dedupe horizon', () =>
      withStore(
        async (store) => {
          await store.commit([createCommit(makeProfile('u:ada'), [event('m1', 1)])]);
          assert.deepEqual(await store.appliedMessageIds(['m1']), new Set(['m1']));
          await new Promise((resolve) => setTimeout(resolve, 400));
          assert.deepEqual(await store.appliedMessageIds(['m1']), new Set());
        },
        { ...CONFORMANCE_OPTIONS, dedupeHorizonMs: 200 },
      ));

    it('returns recent events newest first, up to the limit', () =>
      withStore(async (store) => {
        const events = [event('m2', 2), event('m1', 1), event('m3', 3)];
        await store.commit([createCommit(makeProfile('u:ada'), events)]);
        await store.commit([updateCommit(makeProfile('u:ada', { version: 2 }), 1, [event('m4', 4)])]);
        assert.deepEqual(ids(await store.recentEvents('u:ada', 10)), ['m4', 'm3', 'm2', 'm1']);
        assert.deepEqual(await store.recentEvents('u:ada', 2), [event('m4', 4), event('m3', 3)]);
        assert.deepEqual(await store.recentEvents('u:nobody', 10), []);
        // Since an event time (inclusive): none older.
        const since = event('m2', 2).timestamp;
        assert.deepEqual(ids(await store.recentEvents('u:ada', 10, since)), ['m4', 'm3', 'm2']);
        assert.deepEqual(ids(await store.recentEvents('u:ada', 2, since)), ['m4', 'm3']);
        assert.deepEqual(await store.recentEvents('u:ada', 10, event('m9', 9).timestamp), []);
      }));

    it('keeps one event per messageId', () =>
      withStore(async (store) => {
        await store.commit([createCommit(makeProfile('u:ada'), [event('m1', 1), event('m1', 1)])]);
        const again = { ...event('m1', 1), properties: { replayed: true } };
        await store.commit([updateCommit(makeProfile('u:ada', { version: 2 }), 1, [again, event('m2', 2)])]);
        assert.deepEqual(await store.recentEvents('u:ada', 10), [event('m2', 2), event('m1', 1)]);
      }));

    it('drops events older than the retention', () =>
      withStore(async (store) => {
        const retention = CONFORMANCE_OPTIONS.eventRetentionMs;
        const old = { ...event('old', 0), timestamp: Date.now() - retention - HOUR };
        const recent = { ...event('recent', 0), timestamp: Date.now() - retention + HOUR };
        await store.commit([createCommit(makeProfile('u:ada'), [old, recent])]);
        assert.deepEqual(await store.recentEvents('u:ada', 10), [recent]);
      }));

    it('absorbs a profile: deletes it and moves its history', () =>
      withStore(async (store) => {
        await store.commit([
          createCommit(makeProfile('a:anon', { userId: null }), [event('a1', 1), event('a2', 3)]),
          createCommit(makeProfile('u:ada'), [event('u1', 2)]),
        ]);
        const merged = updateCommit(makeProfile('u:ada', { version: 2 }), 1, [event('u2', 4)]);
        merged.absorb = { key: 'a:anon', expectedVersion: 1 };
        assert.deepEqual(await store.commit([merged]), { conflicts: [] });
        assert.deepEqual([...(await store.getProfiles(['a:anon', 'u:ada'])).keys()], ['u:ada']);
        assert.deepEqual(ids(await store.recentEvents('u:ada', 10)), ['u2', 'a2', 'u1', 'a1']);
        assert.deepEqual(await store.recentEvents('a:anon', 10), []);
        assert.equal(await store.countProfiles(), 1);
      }));

    it('refuses the whole commit when the absorbed profile moved on', () =>
      withStore(async (store) => {
        await store.commit([
          createCommit(makeProfile('a:anon', { userId: null }), [event('a1', 1)]),
          createCommit(makeProfile('u:ada')),
        ]);
        await store.commit([
          updateCommit(makeProfile('a:anon', { version: 2, userId: null }), 1, [event('a2', 2)]),
        ]);
        const merged = updateCommit(makeProfile('u:ada', { version: 2 }), 1, [event('u1', 3)]);
        merged.absorb = { key: 'a:anon', expectedVersion: 1 };
        assert.deepEqual(await store.commit([merged]), { conflicts: ['u:ada'] });
        const profiles = await store.getProfiles(['a:anon', 'u:ada']);
        assert.equal(profiles.get('a:anon')?.version, 2);
        assert.equal(profiles.get('u:ada')?.version, 1);
        assert.deepEqual(ids(await store.recentEvents('a:anon', 10)), ['a2', 'a1']);
        assert.deepEqual(await store.recentEvents('u:ada', 10), []);
        assert.deepEqual(await store.appliedMessageIds(['u1']), new Set());
      }));

    it('links aliases first-link-wins', () =>
      withStore(async (store) => {
        assert.equal(await store.linkAlias('anon-1', 'ada'), 'ada');
        assert.equal(await store.linkAlias('anon-1', 'bob'), 'ada');
        assert.equal(await store.linkAlias('anon-2', 'bob'), 'bob');
        assert.deepEqual(
          await store.getAliases(['anon-1', 'anon-2', 'anon-3']),
          new Map([
            ['anon-1', 'ada'],
            ['anon-2', 'bob'],
          ]),
        );
        assert.deepEqual(await store.getAliases([]), new Map());
      }));

    it('erases a profile, its history and the aliases that point to it', () =>
      withStore(async (store) => {
        const ada = makeProfile('u:ada', { anonymousIds: ['anon-1', 'anon-2', 'anon-shared'] });
        await store.commit([
          createCommit(ada, [event('m1', 1)]),
          createCommit(makeProfile('u:bob'), [event('m2', 1)]),
        ]);
        await store.linkAlias('anon-1', 'ada');
        await store.linkAlias('anon-2', 'ada');
        await store.linkAlias('anon-shared', 'bob');
        assert.equal(await store.eraseProfile('u:ada'), true);
        assert.deepEqual(await store.getProfiles(['u:ada']), new Map());
        assert.deepEqual(await store.recentEvents('u:ada', 10), []);
        assert.deepEqual(
          await store.getAliases(['anon-1', 'anon-2', 'anon-shared']),
          new Map([['anon-shared', 'bob']]),
        );
        assert.equal(await store.countProfiles(), 1);
        assert.equal(await store.eraseProfile('u:ada'), false);
        assert.deepEqual(ids(await store.recentEvents('u:bob', 10)), ['m2']);
        // Erased means gone: the key can be created again from scratch.
        assert.deepEqual(await store.commit([createCommit(makeProfile('u:ada'))]), { conflicts: [] });
        assert.equal(await store.countProfiles(), 2);
      }));

    it('keeps nothing that names an erased user: key names, values, documents', (t) =>
      withStore(async (store, traces) => {
        if (!traces) return t.skip('the adapter holds nothing outside this process');
        const tag = Math.random().toString(36).slice(2, 10);
        const [userId, email, phone] = [
          `gone-${tag}`,
          `gone.${tag}@example.com`,
          `+86139${tag.length}${Date.now() % 1e7}`,
        ];
        const key = `u:${userId}`;
        const profile = makeProfile(key, {
          anonymousIds: [`anon-${tag}`],
          traits: { email, phone },
          checkAt: T0 + HOUR,
        });
        const said = { ...event(`m-${tag}`, 1), userId, properties: { email, phone } };
        await store.commit([{ ...createCommit(profile, [said]), messageIds: [`m-${tag}`] }]);
        await store.linkAlias(`anon-${tag}`, userId);
        assert.ok((await traces([userId, email, phone])).length > 0, 'the scan finds the user before');
        assert.equal(await store.eraseProfile(key), true);
        assert.deepEqual(await traces([userId, email, phone]), []);
      }));

    it('counts profiles', () =>
      withStore(async (store) => {
        assert.equal(await store.countProfiles(), 0);
        await store.commit(['u:1', 'u:2', 'u:3'].map((key) => createCommit(makeProfile(key))));
        await store.commit([updateCommit(makeProfile('u:1', { version: 2 }), 1)]);
        assert.equal(await store.countProfiles(), 3);
      }));

    it('round-trips a profile exactly: nested traits, unicode, nulls', () =>
      withStore(async (store) => {
        const base = makeProfile('u:李雷');
        const profile: Profile = makeProfile('u:李雷', {
          traits: {
            ...base.traits,
            name: '李雷 🚀',
            address: { street: 'Rue de l’Église 5', geo: { lat: 48.85, lng: 2.35 }, floor: null },
            scores: [1, 2.5, -3, 0],
            nothing: null,
            flags: { beta: true, legacy: false },
            empty: {},
            list: [],
          },
          lifecycle: null,
          timezone: null,
          wechat: { wx123: { openId: 'o-1', unionId: 'u-1', at: 1 } },
          pushTokens: [{ token: 't', platform: 'ios', provider: 'apns', seenAt: 2 }],
        });
        await store.commit([createCommit(profile)]);
        assert.deepEqual((await store.getProfiles(['u:李雷'])).get('u:李雷'), profile);
      }));

    it('scans an empty store as one empty, final page', () =>
      withStore(async (store) => {
        for (const limit of [1, 100]) {
          assert.deepEqual(await store.scanProfiles(null, limit), { profiles: [], cursor: null });
        }
      }));

    it('scans every profile exactly once, by key, whatever the page size', () =>
      withStore(async (store) => {
        const keys = scanKeys(250);
        for (let i = 0; i < keys.length; i += 50) {
          const commits = keys
            .slice(i, i + 50)
            .map((key, j) =>
              createCommit(
                makeProfile(key, { eventCount: i + j, traits: { n: i + j, name: `名前 ${key}` } }),
              ),
            );
          assert.deepEqual(await store.commit(commits), { conflicts: [] });
        }
        // Updates and an absorb: a scan sees the current state, and absorbed profiles are gone.
        await store.commit([updateCommit(makeProfile(keys[3], { version: 2, tags: ['updated'] }), 1)]);
        const merged = updateCommit(makeProfile(keys[4], { version: 2 }), 1);
        merged.absorb = { key: keys[5], expectedVersion: 1 };
        assert.deepEqual(await store.commit([merged]), { conflicts: [] });
        const live = keys.filter((k) => k !== keys[5]);
        const expected = await store.getProfiles(live);
        assert.equal(expected.size, live.length);

        for (const limit of [1, 7, 100, 249, 1000]) {
          const pages = await scanAll(store, limit);
          const seen = pages.flatMap((p) => p.profiles);
          for (const page of pages) assert.ok(page.profiles.length <= limit);
          assert.equal(pages.length, Math.max(1, Math.ceil(live.length / limit)), `pages of ${limit}`);
          assert.deepEqual(
            seen.map((p) => p.key),
            [...live].sort(byKey),
            `page size ${limit}`,
          );
          assert.deepEqual(new Map(seen.map((p) => [p.key, p])), expected);
        }
      }));

    it('does not return erased profiles, and resumes a scan from its cursor', () =>
      withStore(async (store) => {
        const keys = scanKeys(40);
        await store.commit(keys.map((key) => createCommit(makeProfile(key))));
        const erased = new Set(keys.filter((_, i) => i % 3 === 0));
        for (const key of erased) assert.equal(await store.eraseProfile(key), true);
        const live = keys.filter((k) => !erased.has(k)).sort(byKey);
        assert.deepEqual(
          (await scanAll(store, 7)).flatMap((p) => p.profiles.map((q) => q.key)),
          live,
        );

        // Midway: erase some of those not yet seen, create new ones; every key present throughout is seen once.
        const first = await store.scanProfiles(null, 10);
        assert.ok(first.cursor !== null);
        const rest = live.slice(10);
        const erasedLater = rest.filter((_, i) => i % 4 === 1);
        for (const key of erasedLater) await store.eraseProfile(key);
        const added = ['u:scan-new-a', 'u:scan-new-z', 'u:0-scan-new'];
        await store.commit(added.map((key) => createCommit(makeProfile(key))));
        const seen = [...first.profiles];
        for (let cursor: string | null = first.cursor; cursor !== null;) {
          const page: ProfilePage = await store.scanProfiles(cursor, 10);
          seen.push(...page.profiles);
          cursor = page.cursor;
        }
        const seenKeys = seen.map((p) => p.key);
        assert.equal(new Set(seenKeys).size, seenKeys.length, 'a profile seen twice');
        for (const key of erasedLater)
          assert.ok(!seenKeys.includes(key), `${key} erased before it was reached`);
        for (const key of live.filter((k) => !erasedLater.includes(k))) {
          assert.ok(seenKeys.includes(key), `${key} not seen`);
        }
        for (const key of seenKeys) assert.ok(live.includes(key) || added.includes(key), `${key} unexpected`);
      }));

    it('scans the members of one segment only, each once, whatever the page size', () =>
      withStore(async (store) => {
        const keys = scanKeys(120);
        const member = (i: number) => i % 7 === 0 || i % 11 === 0;
        await store.commit(
          keys.map((key, i) =>
            createCommit(
              makeProfile(key, { segments: member(i) ? ['vip', 'other'] : i % 2 ? ['other'] : [] }),
            ),
          ),
        );
        // Leaving the segment takes effect at once.
        const left = keys.find((_, i) => i % 7 === 0)!;
        await store.commit([updateCommit(makeProfile(left, { version: 2, segments: ['other'] }), 1)]);
        const members = keys.filter((k, i) => member(i) && k !== left).sort(byKey);
        for (const limit of [1, 7, 500]) {
          const seen: string[] = [];
          let cursor: string | null = null;
          for (let pages = 0; ; pages++) {
            assert.ok(pages < 1000, 'the scan does not end');
            const page: ProfilePage = await store.scanProfiles(cursor, limit, { segment: 'vip' });
            assert.ok(page.profiles.length <= limit);
            for (const p of page.profiles) assert.ok(p.segments.includes('vip'), p.key);
            seen.push(...page.profiles.map((p) => p.key));
            cursor = page.cursor;
            if (cursor === null) break;
          }
          assert.deepEqual(seen, members, `page size ${limit}`);
        }
        assert.deepEqual(
          await store.scanProfiles(null, 10, { segment: 'nobody' }).then((p) => p.profiles),
          [],
        );
      }));

    it('refuses a scan limit that is not a positive integer', () =>
      withStore(async (store) => {
        for (const limit of [0, -1, 1.5, Number.NaN]) {
          await assert.rejects(store.scanProfiles(null, limit), RangeError);
        }
      }));

    it('indexes committed timers: set, moved and cleared by commits, earliest first, up to the limit', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.dueProfiles(Infinity, 10), []);
        await store.commit([
          createCommit(makeProfile('u:c', { checkAt: 3000 })),
          createCommit(makeProfile('u:a', { checkAt: 1000 })),
          createCommit(makeProfile('u:b', { checkAt: 2000 })),
          createCommit(makeProfile('u:none')),
          createCommit(makeProfile('u:null', { checkAt: null })),
        ]);
        assert.deepEqual(await store.dueProfiles(Infinity, 10), [
          { key: 'u:a', at: 1000 },
          { key: 'u:b', at: 2000 },
          { key: 'u:c', at: 3000 },
        ]);
        // `before` is inclusive; the limit caps the page.
        assert.deepEqual(await store.dueProfiles(2000, 10), [
          { key: 'u:a', at: 1000 },
          { key: 'u:b', at: 2000 },
        ]);
        assert.deepEqual(await store.dueProfiles(1999, 10), [{ key: 'u:a', at: 1000 }]);
        assert.deepEqual(await store.dueProfiles(999, 10), []);
        assert.deepEqual(await store.dueProfiles(Infinity, 1), [{ key: 'u:a', at: 1000 }]);

        // Moved later, cleared with null, cleared by omission, set on a profile that had none.
        await store.commit([
          updateCommit(makeProfile('u:a', { version: 2, checkAt: 5000 }), 1),
          updateCommit(makeProfile('u:b', { version: 2, checkAt: null }), 1),
          updateCommit(makeProfile('u:c', { version: 2 }), 1),
          updateCommit(makeProfile('u:none', { version: 2, checkAt: 500 }), 1),
        ]);
        assert.deepEqual(await store.dueProfiles(Infinity, 10), [
          { key: 'u:none', at: 500 },
          { key: 'u:a', at: 5000 },
        ]);
        // A refused commit changes nothing of the index.
        const stale = updateCommit(makeProfile('u:a', { version: 2, checkAt: 100 }), 1);
        assert.deepEqual(await store.commit([stale]), { conflicts: ['u:a'] });
        assert.deepEqual(await store.dueProfiles(Infinity, 10), [
          { key: 'u:none', at: 500 },
          { key: 'u:a', at: 5000 },
        ]);
      }));

    it('pages through the due index after a given entry, ties ordered by key', () =>
      withStore(async (store) => {
        const at = T0 + HOUR;
        // 25 timers at the same instant, 10 later ones and 5 not yet due.
        const same = Array.from({ length: 25 }, (_, i) => `u:tie-${String(i).padStart(2, '0')}`);
        const later = Array.from({ length: 10 }, (_, i) => `u:later-${i}`);
        const future = Array.from({ length: 5 }, (_, i) => `u:future-${i}`);
        await store.commit([
          ...[...same].reverse().map((key) => createCommit(makeProfile(key, { checkAt: at }))),
          ...later.map((key, i) => createCommit(makeProfile(key, { checkAt: at + 1 + i }))),
          ...future.map((key, i) => createCommit(makeProfile(key, { checkAt: at + HOUR + i }))),
        ]);
        const expected = [
          ...same.map((key) => ({ key, at })),
          ...later.map((key, i) => ({ key, at: at + 1 + i })),
        ];
        for (const limit of [1, 7, 25, 34, 35, 100]) {
          const seen: DueProfile[] = [];
          let after: DueProfile | undefined;
          for (let pages = 0; ; pages++) {
            assert.ok(pages <= 40, 'paging does not end');
            const page = await store.dueProfiles(at + 10, limit, after);
            assert.ok(page.length <= limit);
            seen.push(...page);
            if (page.length < limit) break;
            after = page[page.length - 1];
          }
          assert.deepEqual(seen, expected, `pages of ${limit}`);
        }
        // After an entry that has since left the index: from the first entry of its time on, none skipped.
        await store.eraseProfile(same[10]);
        const resumed = await store.dueProfiles(at + 10, 100, { key: same[10], at });
        const keys = resumed.map((e) => e.key);
        for (const key of [...same.slice(11), ...later]) assert.ok(keys.includes(key), `${key} skipped`);
        assert.ok(!keys.includes(same[10]));
      }));

    it('drops the timer of an erased profile and of an absorbed one', () =>
      withStore(async (store) => {
        await store.commit([
          createCommit(makeProfile('a:anon', { userId: null, checkAt: 1000 })),
          createCommit(makeProfile('u:ada', { checkAt: 2000 })),
          createCommit(makeProfile('u:bob', { checkAt: 3000 })),
        ]);
        const merged = updateCommit(makeProfile('u:ada', { version: 2, checkAt: 2000 }), 1);
        merged.absorb = { key: 'a:anon', expectedVersion: 1 };
        assert.deepEqual(await store.commit([merged]), { conflicts: [] });
        assert.deepEqual(await store.dueProfiles(Infinity, 10), [
          { key: 'u:ada', at: 2000 },
          { key: 'u:bob', at: 3000 },
        ]);
        assert.equal(await store.eraseProfile('u:ada'), true);
        assert.deepEqual(await store.dueProfiles(Infinity, 10), [{ key: 'u:bob', at: 3000 }]);
        // Created again from scratch: its new timer, if any, is the only one.
        await store.commit([createCommit(makeProfile('u:ada', { checkAt: 4000 }))]);
        assert.deepEqual(await store.dueProfiles(Infinity, 10), [
          { key: 'u:bob', at: 3000 },
          { key: 'u:ada', at: 4000 },
        ]);
      }));

    it('refuses a due page limit that is not a positive integer', () =>
      withStore(async (store) => {
        for (const limit of [0, -1, 1.5, Number.NaN]) {
          await assert.rejects(store.dueProfiles(Infinity, limit), RangeError);
        }
      }));

    it('never loses an update under concurrent read-modify-commit loops', () =>
      withStore(async (store) => {
        const increment = async (worker: number) => {
          for (let attempt = 0; ; attempt++) {
            assert.ok(attempt < 200, 'too many conflicts');
            const current = (await store.getProfiles(['u:counter'])).get('u:counter');
            const version = current?.version ?? 0;
            const count = Number(current?.traits.count ?? 0);
            const next = makeProfile('u:counter', { version: version + 1, traits: { count: count + 1 } });
            const commit = updateCommit(next, version, [event(`w${worker}`, worker)]);
            const { conflicts } = await store.commit([commit]);
            if (conflicts.length === 0) return;
          }
        };
        await Promise.all(Array.from({ length: 20 }, (_, worker) => increment(worker)));
        const profile = (await store.getProfiles(['u:counter'])).get('u:counter');
        assert.equal(profile?.traits.count, 20);
        assert.equal(profile?.version, 20);
        assert.equal((await store.recentEvents('u:counter', 100)).length, 20);
      }));
  });
}

/** Event `n` happened `n` minutes after T0: the order follows `n`, and all are well within retention. */
function event(messageId: string, n: number): StoredEvent {
  return {
    messageId,
    type: 'track',
    event: 'Order Completed',
    properties: { orderId: messageId, total: 42.5, items: [{ sku: 'A-1', qty: 2 }] },
    context: { ip: '203.0.113.7', locale: 'zh-CN' },
    timestamp: T0 + n * 60_000,
    receivedAt: T0 + n * 60_000 + 150,
  };
}

function ids(events: StoredEvent[]): string[] {
  return events.map((e) => e.messageId);
}

/** `n` keys in no particular order, some of them not ASCII (order is then by UTF-8 bytes or code units). */
function scanKeys(n: number): string[] {
  const names = ['ada', 'bob', 'Zoë', '李雷', 'émile', "o'hara", 'a b', 'x:y'];
  return Array.from(
    { length: n },
    (_, i) => `${i % 2 ? 'u' : 'a'}:${names[i % names.length]}-${(i * 7919) % n}`,
  );
}

/** Code unit order, which is also UTF-8 byte order for keys without characters beyond U+FFFF. */
function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Pages through the whole store; stops a runaway scan. */
async function scanAll(store: Store, limit: number): Promise<ProfilePage[]> {
  const pages: ProfilePage[] = [];
  let cursor: string | null = null;
  do {
    assert.ok(pages.length < 10_000, 'the scan does not end');
    const page: ProfilePage = await store.scanProfiles(cursor, limit);
    pages.push(page);
    cursor = page.cursor;
  } while (cursor !== null);
  return pages;
}
