/**
 * bench/startup: how long `tideline start` takes to answer and what it holds in memory, from the
 * compiled build and from the TypeScript sources (through tsx), run alternately on the same machine.
 * Usage: npm run bench:startup -- [--runs 5]
 *
 * - ms to listening: from spawning the process until it prints its URL (empty data folder, no demo).
 * - RSS: the process's resident memory once it listens.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnTideline } from '../dev/processes.ts';
import { fmt, log, median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);

/** Resident memory of a process in KB (Linux). */
function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function once(fromSource: boolean): Promise<{ ms: number; rssMb: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tideline-startup-'));
  const started = performance.now();
  const p = spawnTideline('start', {
    TIDELINE_DEMO: 'false',
    TIDELINE_DATA_DIR: dataDir,
    TIDELINE_FROM_SOURCE: fromSource ? '1' : '0',
  });
  try {
    await p.url;
    const ms = performance.now() - started;
    return { ms, rssMb: rssKb(p.child.pid as number) / 1024 };
  } finally {
    await p.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const series = {
  compiled: [] as { ms: number; rssMb: number }[],
  source: [] as { ms: number; rssMb: number }[],
};
for (let i = 0; i < runs; i++) {
  series.compiled.push(await once(false));
  series.source.push(await once(true));
}
log(`bench/startup: tideline start, empty data folder, no demo; median of ${runs}`);
for (const [name, results] of Object.entries(series)) {
  log(
    `  ${name.padEnd(9)} ${fmt(median(results.map((r) => r.ms)))} ms to listening, ` +
      `RSS ${fmt(median(results.map((r) => r.rssMb)), 1)} MB`,
  );
}
