import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryDefinitionStore } from '../../engine/adapters/definitions/memory.ts';
import { definitionsConformance } from './conformance.ts';

definitionsConformance('memory', async () => ({
  store: new MemoryDefinitionStore(),
  cleanup: async () => {},
}));

describe('memory definitions file', () => {
  it('writes definitions.json after every change, which a new store on the same dataDir loads', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tideline-definitions-'));
    try {
      const first = new MemoryDefinitionStore({ dataDir });
      await first.init();
      await first.saveDraft('segment', 'high_value', { rule: { all: [] }, name: '高价值' }, 1);
      await first.publish('segment', 'high_value', 1, 2);
      await first.saveDraft('segment', 'high_value', { rule: { any: [] } }, 3);
      await first.saveDraft('journey', 'welcome', { steps: [] }, 4);
      await first.archive('journey', 'welcome', 1, 5);
      // On disk as soon as the change resolves, without close().
      assert.deepEqual(await readdir(dataDir), ['definitions.json']);

      const second = new MemoryDefinitionStore({ dataDir });
      await second.init();
      for (const [kind, id] of [
        ['segment', 'high_value'],
        ['journey', 'welcome'],
      ] as const) {
        assert.deepEqual(await second.history(kind, id), await first.history(kind, id));
        assert.deepEqual(await second.list(kind), await first.list(kind));
      }
      assert.equal((await second.saveDraft('segment', 'high_value', { rule: 'c' }, 6)).version, 2);
      assert.equal((await second.saveDraft('journey', 'welcome', { steps: [1] }, 7)).version, 2);
      await first.close();
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('starts empty without a file, and writes none until something changes', async () => {
    const dataDir = join(tmpdir(), `tideline-definitions-missing-${process.pid}-${Date.now()}`);
    try {
      const store = new MemoryDefinitionStore({ dataDir });
      await store.init();
      assert.deepEqual(await store.list('segment'), []);
      await store.close();
      assert.equal(existsSync(dataDir), false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not a definitions file', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tideline-definitions-'));
    try {
      await writeFile(join(dataDir, 'definitions.json'), '{"tideline":"store","format":1}');
      await assert.rejects(new MemoryDefinitionStore({ dataDir }).init(), /not a Tideline definitions file/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
