#!/usr/bin/env node
// Adds to package-lock.json the platform-specific optional packages (e.g. `@msgpackr-extract/*-darwin-arm64`)
// that npm left out because the registry it installed from did not serve them. npm records such
// entries with their `os` / `cpu` when it can, and `npm ci` insists on finding them; on a machine of
// another platform it skips them without fetching. Run after `npm install` changes the lock file.
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openbsd', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'];

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[hoisted]) continue;
    const parts = name.split(/[/-]/);
    const os = OS.filter((o) => parts.includes(o));
    const cpu = CPU.filter((c) => parts.includes(c));
    if (os.length === 0 || cpu.length === 0) continue; // not a platform package: leave it to npm
    const libc = parts.includes('musl')
      ? { libc: ['musl'] }
      : parts.includes('gnu')
        ? { libc: ['glibc'] }
        : {};
    lock.packages[hoisted] = { version, cpu, ...libc, optional: true, os };
    added++;
  }
}
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform package entries to package-lock.json`);
