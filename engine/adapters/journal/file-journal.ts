import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT = /^ingest-(\d{10})\.journal$/;
const name = (n: number) => `ingest-${String(n).padStart(10, '0')}.journal`;

/**
 * A write-ahead journal for the embedded mode, whose queue lives in memory: each ingest job is
 * appended (one JSON line) before it is queued, so an acknowledged event survives a crash of the
 * process. Entries are replayed at start (re-applying one is a no-op: messageIds are deduplicated),
 * and dropped once a store snapshot is known to contain their effects.
 *
 * Appends are synchronous writes to an O_APPEND file: they reach the OS before the API answers
 * (surviving a process crash, not a power cut) and keep their order with sealing.
 */
export class FileJournal<T> {
  private fd: number | null = null;
  private segment = 0;

  constructor(private readonly dir: string) {}

  /** Reads what earlier runs left, oldest first, and starts a new segment for this run. */
  async open(): Promise<T[]> {
    await mkdir(this.dir, { recursive: true });
    const segments = await this.segments();
    const entries: T[] = [];
    for (const n of segments) {
      const text = await readFile(join(this.dir, name(n)), 'utf8');
      for (const line of text.split('\n')) {
        // A line cut short by a crash was never acknowledged: skip it.
        if (!line) continue;
        try {
          entries.push(JSON.parse(line) as T);
        } catch {}
      }
    }
    this.segment = (segments.at(-1) ?? 0) + 1;
    return entries;
  }

  append(entry: T): void {
    this.fd ??= openSync(join(this.dir, name(this.segment)), 'a');
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
  }

  /** Later appends go to a new segment; returns the last sealed segment for `drop`. */
  seal(): number {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    return this.segment++;
  }

  /** Deletes the sealed segments up to `upTo`. */
  async drop(upTo: number): Promise<void> {
    for (const n of await this.segments()) if (n <= upTo) await unlink(join(this.dir, name(n)));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private async segments(): Promise<number[]> {
    const files = await readdir(this.dir);
    return files
      .map((f) => SEGMENT.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }
}
