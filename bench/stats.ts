import { readFileSync } from 'node:fs';

/** Small helpers for benchmark reporting: medians over runs, not single runs. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const CLOCK_TICKS = 100; // Linux's USER_HZ, what /proc reports CPU times in

/**
 * CPU seconds (user + system, every thread) a process has used so far, from /proc/PID/stat: a
 * figure that holds on a busy machine, where events/s do not. 0 where /proc is missing.
 */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
