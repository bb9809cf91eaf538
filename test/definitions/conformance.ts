import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../model/json.ts';
import {
  DefinitionConflict,
  DefinitionNotFound,
  type DefinitionStore,
  type DefinitionVersion,
} from '../../ports/definitions.ts';

type MakeStore = () => Promise<{ store: DefinitionStore; cleanup(): Promise<void> }>;

const T = 1_767_225_600_000; // 2026-01-01T00:00:00Z; each test passes its own `now`

/**
 * The semantics every DefinitionStore adapter must have. `make` returns a new, empty store (not yet
 * initialised); `cleanup` removes whatever it left behind.
 */
export function definitionsConformance(name: string, make: MakeStore): void {
  async function withStore(fn: (store: DefinitionStore) => Promise<void>): Promise<void> {
    const { store, cleanup } = await make();
    await store.init();
    try {
      await fn(store);
    } finally {
      await store.close();
      await cleanup();
    }
  }

  describe(`${name} definitions conformance`, () => {
    it('saves a first draft as version 1, with the times passed in', () =>
      withStore(async (store) => {
        const saved = await store.saveDraft('segment', 'high_value', { rule: 'a' }, T);
        const expected: DefinitionVersion = {
          kind: 'segment',
          id: 'high_value',
          version: 1,
          status: 'draft',
          document: { rule: 'a' },
          createdAt: T,
          updatedAt: T,
          publishedAt: null,
          archivedAt: null,
        };
        assert.deepEqual(saved, expected);
        assert.deepEqual(await store.get('segment', 'high_value', 1), expected);
        assert.equal(await store.live('segment', 'high_value'), null);
      }));

    it('edits the draft in place while it is the newest version', () =>
      withStore(async (store) => {
        await store.saveDraft('journey', 'welcome', { steps: [1] }, T);
        const edited = await store.saveDraft('journey', 'welcome', { steps: [1, 2] }, T + 5);
        assert.equal(edited.version, 1);
        assert.deepEqual(edited.document, { steps: [1, 2] });
        assert.equal(edited.createdAt, T);
        assert.equal(edited.updatedAt, T + 5);
        assert.deepEqual(await store.history('journey', 'welcome'), [edited]);
      }));

    it('publishes a draft, which becomes live', () =>
      withStore(async (store) => {
        await store.saveDraft('segment', 'high_value', { rule: 'a' }, T);
        const published = await store.publish('segment', 'high_value', 1, T + 10);
        assert.equal(published.status, 'published');
        assert.equal(published.publishedAt, T + 10);
        assert.equal(published.updatedAt, T);
        assert.equal(published.archivedAt, null);
        assert.deepEqual(await store.get('segment', 'high_value', 1), published);
        assert.deepEqual(await store.live('segment', 'high_value'), published);
      }));

    it('never changes a published document: saving makes a new draft version instead', () =>
      withStore(async (store) => {
        await store.saveDraft('segment', 'high_value', { rule: 'a' }, T);
        const v1 = await store.publish('segment', 'high_value', 1, T + 1);
        const v2 = await store.saveDraft('segment', 'high_value', { rule: 'b' }, T + 2);
        assert.equal(v2.version, 2);
        assert.equal(v2.status, 'draft');
        assert.equal(v2.createdAt, T + 2);
        const v2b = await store.saveDraft('segment', 'high_value', { rule: 'c' }, T + 3);
        assert.equal(v2b.version, 2);
        assert.deepEqual(await store.get('segment', 'high_value', 1), v1);
        assert.deepEqual(await store.live('segment', 'high_value'), v1);
        assert.deepEqual(
          (await store.history('segment', 'high_value')).map((v) => [v.version, v.status, v.document]),
          [
            [1, 'published', { rule: 'a' }],
            [2, 'draft', { rule: 'c' }],
          ],
        );
      }));

    it('refuses to publish a version that is not a draft, changing nothing', () =>
      withStore(async (store) => {
        await store.saveDraft('segment', 'high_value', { rule: 'a' }, T);
        await store.publish('segment', 'high_value', 1, T + 1);
        await store.saveDraft('segment', 'high_value', { rule: 'b' }, T + 2);
        await store.publish('segment', 'high_value', 2, T + 3);
        const before = await store.history('segment', 'high_value');
        await assert.rejects(store.publish('segment', 'high_value', 2, T + 4), {
          name: 'DefinitionConflict',
          message: 'segment high_value version 2 is published; published versions never change',
        });
        await store.archive('segment', 'high_value', 1, T + 5);
        await assert.rejects(store.publish('segment', 'high_value', 1, T + 6), (error: unknown) => {
          assert.ok(error instanceof DefinitionConflict);
          assert.deepEqual([error.kind, error.id, error.version], ['segment', 'high_value', 1]);
          assert.match(error.message, /^segment high_value version 1 is archived/);
          return true;
        });
        const after = await store.history('segment', 'high_value');
        assert.deepEqual(after[1], before[1]);
        assert.equal(after[0].status, 'archived');
      }));

    it('throws DefinitionNotFound when publishing or archiving what does not exist; readers return null', () =>
      withStore(async (store) => {
        await store.saveDraft('segment', 'high_value', { rule: 'a' }, T);
        const notFound = (version: number) => (error: unknown) => {
          assert.ok(error instanceof DefinitionNotFound);
          assert.equal(error.version, version);
          assert.match(error.message, new RegExp(`version ${version} does not exist`));
          return true;
        };
        await assert.rejects(store.publish('segment', 'high_value', 2, T), notFound(2));
        await assert.rejects(store.publish('segment', 'nobody', 1, T), notFound(1));
        await assert.rejects(store.publish('journey', 'high_value', 1, T), notFound(1));
        await assert.rejects(store.archive('segment', 'high_value', 0, T), notFound(0));
        await assert.rejects(store.archive('segment', 'nobody', 1, T), notFound(1));
        assert.equal(await store.get('segment', 'high_value', 2), null);
        assert.equal(await store.get('segment', 'nobody', 1), null);
        assert.equal(await store.live('segment', 'nobody'), null);
        assert.deepEqual(await store.history('segment', 'nobody'), []);
        assert.deepEqual(await store.list('template'), []);
      }));

    it('publishes only the reviewed draft when ifDraftUpdatedAt is given', () =>
      withStore(async (store) => {
        const reviewed = await store.saveDraft('template', 'promo', { body: 'v1' }, T);
        await store.saveDraft('template', 'promo', { body: 'v1 edited' }, T + 7);
        await assert.rejects(
          store.publish('template', 'promo', 1, T + 8, { ifDraftUpdatedAt: reviewed.updatedAt }),
          (error: unknown) => error instanceof DefinitionConflict && /saved again/.test(error.message),
        );
        assert.equal((await store.get('template', 'promo', 1))?.status, 'draft');
        const published = await store.publish('template', 'promo', 1, T + 9, { ifDraftUpdatedAt: T + 7 });
        assert.deepEqual(published.document, { body: 'v1 edited' });
      }));

    it('keeps several versions published; the live one is the highest', () =>
      withStore(async (store) => {
        for (let v = 1; v <= 3; v++) {
          await store.saveDraft('journey', 'welcome', { v }, T + v);
          await store.publish('journey', 'welcome', v, T + v);
        }
        await store.saveDraft('journey', 'welcome', { v: 4 }, T + 4);
        assert.equal((await store.live('journey', 'welcome'))?.version, 3);
        const statuses = (await store.history('journey', 'welcome')).map((v) => v.status);
        assert.deepEqual(statuses, ['published', 'published', 'published', 'draft']);
        assert.deepEqual((await store.get('journey', 'welcome', 1))?.document, { v: 1 });
      }));

    it('archiving the live version makes the highest remaining published one live; none left means off', () =>
      withStore(async (store) => {
        for (let v = 1; v <= 3; v++) {
          await store.saveDraft('segment', 'churn_risk', { v }, T + v);
          await store.publish('segment', 'churn_risk', v, T + v);
        }
        await store.archive('segment', 'churn_risk', 2, T + 10); // not live: live stays 3
        assert.equal((await store.live('segment', 'churn_risk'))?.version, 3);
        const archived = await store.archive('segment', 'churn_risk', 3, T + 11);
        assert.equal(archived.status, 'archived');
        assert.equal(archived.archivedAt, T + 11);
        assert.equal(archived.publishedAt, T + 3);
        assert.equal((await store.live('segment', 'churn_risk'))?.version, 1);
        await store.archive('segment', 'churn_risk', 1, T + 12);
        assert.equal(await store.live('segment', 'churn_risk'), null);
        assert.deepEqual(await store.list('segment'), [
          { id: 'churn_risk', newest: await store.get('segment', 'churn_risk', 3), live: null },
        ]);
      }));

    it('archives a draft; the next save starts a new version; archiving twice is a conflict', () =>
      withStore(async (store) => {
        await store.saveDraft('tagRule', 'price_sensitive', { uses: 3 }, T);
        const archived = await store.archive('tagRule', 'price_sensitive', 1, T + 1);
        assert.deepEqual(
          [archived.status, archived.publishedAt, archived.archivedAt],
          ['archived', null, T + 1],
        );
        await assert.rejects(store.archive('tagRule', 'price_sensitive', 1, T + 2), {
          name: 'DefinitionConflict',
          message: 'tagRule price_sensitive version 1 is already archived',
        });
        const next = await store.saveDraft('tagRule', 'price_sensitive', { uses: 4 }, T + 3);
        assert.equal(next.version, 2);
        assert.deepEqual((await store.get('tagRule', 'price_sensitive', 1))?.document, { uses: 3 });
      }));

    it('lists one entry per id with its newest version and live version number; kinds are separate', () =>
      withStore(async (store) => {
        await store.saveDraft('segment', 'b_seg', { n: 1 }, T);
        await store.publish('segment', 'b_seg', 1, T);
        const newestB = await store.saveDraft('segment', 'b_seg', { n: 2 }, T + 1);
        const onlyDraft = await store.saveDraft('segment', 'a_seg', { n: 1 }, T);
        await store.saveDraft('journey', 'b_seg', { other: true }, T);
        const journeyLive = await store.publish('journey', 'b_seg', 1, T + 2);
        assert.deepEqual(await store.list('segment'), [
          { id: 'a_seg', newest: onlyDraft, live: null },
          { id: 'b_seg', newest: newestB, live: 1 },
        ]);
        assert.deepEqual(await store.list('journey'), [{ id: 'b_seg', newest: journeyLive, live: 1 }]);
        assert.deepEqual(await store.list('lifecycle'), []);
        assert.deepEqual((await store.history('journey', 'b_seg')).length, 1);
      }));

    it('returns history oldest first and never reuses a version number', () =>
      withStore(async (store) => {
        await store.saveDraft('lifecycle', 'default', { n: 1 }, T);
        await store.publish('lifecycle', 'default', 1, T);
        await store.saveDraft('lifecycle', 'default', { n: 2 }, T);
        await store.archive('lifecycle', 'default', 2, T);
        await store.saveDraft('lifecycle', 'default', { n: 3 }, T);
        await store.publish('lifecycle', 'default', 3, T);
        await store.archive('lifecycle', 'default', 3, T);
        await store.saveDraft('lifecycle', 'default', { n: 4 }, T);
        const history = await store.history('lifecycle', 'default');
        assert.deepEqual(
          history.map((v) => [v.version, v.status, v.document.n]),
          [
            [1, 'published', 1],
            [2, 'archived', 2],
            [3, 'archived', 3],
            [4, 'draft', 4],
          ],
        );
        assert.equal((await store.live('lifecycle', 'default'))?.version, 1);
      }));

    it('round-trips documents exactly: nested JSON, unicode, odd keys, numbers', () =>
      withStore(async (store) => {
        const document: JsonObject = {
          name: '生日祝福 🎂 — Café',
          trigger: { type: 'schedule', cron: '0 9 * * *', tz: 'Asia/Shanghai' },
          steps: [
            { type: 'wait', duration: 'P1D' },
            {
              type: 'branch',
              when: [{ all: [{ fact: 'traits', path: '$.ltv', operator: 'greaterThan', value: 1e3 }] }],
            },
            [],
            {},
          ],
          numbers: [0, -1, 1.5, 2 ** 53 - 1, -2.5e-7, 1e21],
          flags: { on: true, off: false, none: null },
          $where: 'not an operator',
          'dotted.key': { $gt: 1 },
          '': 'empty key',
          escapes: 'quote " backslash \\ newline \n tab \t nul \u0000',
        };
        const saved = await store.saveDraft('journey', 'birthday', document, T);
        assert.deepEqual(saved.document, document);
        assert.deepEqual((await store.get('journey', 'birthday', 1))?.document, document);
        const published = await store.publish('journey', 'birthday', 1, T);
        assert.deepEqual(published.document, document);
        assert.deepEqual((await store.live('journey', 'birthday'))?.document, document);
        assert.deepEqual(
          Object.keys((await store.history('journey', 'birthday'))[0].document),
          Object.keys(document),
        );
      }));

    it('is not changed by callers mutating documents they passed in or got back', () =>
      withStore(async (store) => {
        const document: JsonObject = { steps: [{ type: 'send' }] };
        await store.saveDraft('journey', 'welcome', document, T);
        document.steps = [];
        const read = await store.get('journey', 'welcome', 1);
        assert.ok(read);
        read.document.steps = 'changed';
        read.status = 'published';
        const again = await store.get('journey', 'welcome', 1);
        assert.deepEqual(again?.document, { steps: [{ type: 'send' }] });
        assert.equal(again?.status, 'draft');
      }));

    it('lets exactly one of 10 concurrent publishes of one draft succeed', () =>
      withStore(async (store) => {
        await store.saveDraft('segment', 'race', { rule: 'a' }, T);
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => store.publish('segment', 'race', 1, T + 100 + i)),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        assert.equal(won.length, 1);
        assert.equal(lost.length, 9);
        for (const r of lost) assert.ok(r.reason instanceof DefinitionConflict, String(r.reason));
        assert.deepEqual(await store.live('segment', 'race'), won[0].value);
      }));

    it('makes one version of concurrent first saves', () =>
      withStore(async (store) => {
        const saves = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.saveDraft('template', 'fresh', { i }, T + i)),
        );
        assert.deepEqual(
          saves.map((v) => v.version),
          saves.map(() => 1),
        );
        const history = await store.history('template', 'fresh');
        assert.equal(history.length, 1);
        assert.equal(history[0].status, 'draft');
        assert.deepEqual(await store.list('template'), [{ id: 'fresh', newest: history[0], live: null }]);
      }));

    it('never changes what was published when a save races the publish', () =>
      withStore(async (store) => {
        for (let round = 0; round < 10; round++) {
          const id = `race_${round}`;
          await store.saveDraft('journey', id, { edit: 0 }, T);
          const [published, saved] = await Promise.all([
            store.publish('journey', id, 1, T + 1),
            store.saveDraft('journey', id, { edit: 1 }, T + 2),
          ]);
          assert.deepEqual(await store.get('journey', id, 1), published);
          const history = await store.history('journey', id);
          if (saved.version === 1) {
            // The save landed first: it is what got published.
            assert.deepEqual(published.document, { edit: 1 });
            assert.equal(history.length, 1);
          } else {
            assert.equal(saved.version, 2);
            assert.deepEqual(published.document, { edit: 0 });
            assert.deepEqual(history[1], saved);
          }
        }
      }));
  });
}
