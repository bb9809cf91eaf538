// Builds what the console loads besides its own modules, into web/vendor/ (not committed):
// - editor.js: the code editor (web/codemirror/editor.js) with CodeMirror bundled in, since the
//   console has no bundler and CodeMirror's packages import each other by bare names;
// - schemas/<kind>.schema.json: each workspace document's JSON Schema with the schemas it refers to
//   (the condition language) inlined, for the editor's completion.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'web/vendor';
mkdirSync(`${OUT}/schemas`, { recursive: true });

await build({
  entryPoints: ['web/codemirror/editor.js'],
  outfile: `${OUT}/editor.js`,
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2022',
  legalComments: 'linked',
  logLevel: 'warning',
});

/** A schema file's definitions under a prefix, its own `#/definitions/x` references renamed alike. */
function inlined(file, prefix) {
  const text = readFileSync(`schemas/${file}`, 'utf8').replaceAll(
    '"#/definitions/',
    `"#/definitions/${prefix}`,
  );
  const { definitions = {}, $schema: _s, title: _t, description: _d, ...root } = JSON.parse(text);
  return {
    [prefix.slice(0, -1)]: root,
    ...Object.fromEntries(Object.entries(definitions).map(([k, v]) => [`${prefix}${k}`, v])),
  };
}

for (const file of readdirSync('schemas').filter((f) => f.endsWith('.schema.json'))) {
  let text = readFileSync(`schemas/${file}`, 'utf8');
  const schema = JSON.parse(text);
  const external = [...new Set([...text.matchAll(/"\$ref":\s*"([^#"][^"]*)"/g)].map((m) => m[1]))];
  for (const ref of external) {
    const prefix = `${ref.replace('.schema.json', '')}_`;
    Object.assign((schema.definitions ??= {}), inlined(ref, prefix));
  }
  text = JSON.stringify(schema);
  for (const ref of external)
    text = text.replaceAll(`"$ref":"${ref}"`, `"$ref":"#/definitions/${ref.replace('.schema.json', '')}"`);
  writeFileSync(`${OUT}/schemas/${file}`, text);
}
