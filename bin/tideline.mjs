#!/usr/bin/env node
// Runs the compiled build (`npm run build`, which `npm install` runs); from a checkout without one, or
// with TIDELINE_FROM_SOURCE=1, the TypeScript sources through tsx (a development dependency).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled) && process.env.TIDELINE_FROM_SOURCE !== '1') {
  await import(compiled.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('tideline: no compiled build (dist/) and no tsx to run the sources: run `npm run build`');
    process.exit(1);
  }
  register();
  await import('../cli/main.ts');
}
