import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { publishWorkspaceFiles, workspaceFromStore } from '../../cli/workspace.ts';
import { MemoryDefinitionStore } from '../../engine/adapters/definitions/memory.ts';
import { silentLogger } from '../../ports/logger.ts';

const DEMO = fileURLToPath(new URL('../../fixtures/workspace', import.meta.url));

it('publishes workspace files as code: once when new, a new version when changed, nothing when unchanged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-ws-'));
  try {
    cpSync(DEMO, dir, { recursive: true });
    const definitions = new MemoryDefinitionStore({});
    await definitions.init();
    await publishWorkspaceFiles(dir, definitions, 1000, silentLogger);
    let ws = await workspaceFromStore(definitions, 'UTC');
    assert.equal(ws.segments.length, 7);
    assert.equal(ws.tagRules.length, 4);
    assert.equal(ws.lifecycle.churnAfter, 'P90D', "the workspace's lifecycle.json, not the defaults");

    await publishWorkspaceFiles(dir, definitions, 2000, silentLogger);
    assert.equal((await definitions.history('segment', 'high_value_buyers')).length, 1);

    const file = join(dir, 'segments', 'high_value_buyers.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    doc.condition.all[0].value = 2000;
    writeFileSync(file, JSON.stringify(doc));
    await publishWorkspaceFiles(dir, definitions, 3000, silentLogger);
    const live = await definitions.live('segment', 'high_value_buyers');
    assert.equal(live?.version, 2);
    assert.equal(live?.document.version, 2, 'the document carries the version the store gave it');
    ws = await workspaceFromStore(definitions, 'UTC');
    assert.equal(ws.segments.find((s) => s.id === 'high_value_buyers')?.version, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
