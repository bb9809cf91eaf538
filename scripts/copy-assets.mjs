// Copies what the compiled build reads at run time beside its modules: the console's files, the demo
// workspace and its sample stream (the JSON Schemas are emitted by tsc with the modules that import them).
import { cpSync, rmSync } from 'node:fs';

const assets = ['web', 'fixtures/workspace', 'fixtures/sample-events.ndjson'];
for (const path of assets) {
  rmSync(`dist/${path}`, { recursive: true, force: true });
  cpSync(path, `dist/${path}`, { recursive: true });
}
