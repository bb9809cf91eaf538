import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A workspace folder in the temp dir holding `files` (path inside the folder → JSON document). */
export function workspaceFolder(files: Record<string, object>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-workspace-'));
  for (const [path, doc] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), JSON.stringify(doc));
  }
  return dir;
}
