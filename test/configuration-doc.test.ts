import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { CONFIGURATION_DOC, configurationDoc } from '../scripts/configuration-doc.ts';
import { ENVIRONMENT } from '../cli/config.ts';

it('docs/configuration.md is what `npm run docs:config` makes from cli/config.ts', async () => {
  const committed = readFileSync(CONFIGURATION_DOC, 'utf8');
  assert.equal(
    committed,
    await configurationDoc(),
    'docs/configuration.md is out of date: run `npm run docs:config` and commit the result',
  );
});

it('names every variable of the ENVIRONMENT list', () => {
  const committed = readFileSync(CONFIGURATION_DOC, 'utf8');
  for (const [name] of ENVIRONMENT) assert.ok(committed.includes(`| \`${name}\``), `${name} is missing`);
});
