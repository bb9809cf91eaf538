/**
 * `tideline import <file.ndjson>`: sends a file of history to a running Tideline's import API, each
 * user's messages in one request (the ids an identify or alias links stay together), follows every
 * import job with a progress bar, and prints a summary.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import { idsOf, linkedChunks } from '../engine/ingest/linked-ids.ts';

export interface ImportOptions {
  url: string;
  key: string;
  until?: string;
  /** Messages per request at most (a user with more goes alone). */
  batch: number;
  /** Draw the progress bar (a terminal); otherwise a line per request. */
  progress: boolean;
}

interface Line {
  text: string;
  ids: string[];
  line: number;
}

/** What `POST /v1/import` answers (202), or its error. */
interface ImportAnswer {
  import: { href: string };
  rejected?: { index: number; errors: { pointer: string; message: string }[] }[];
  message?: string;
  errors?: { pointer: string; message: string }[];
}

interface Summary {
  messages: number;
  applied: number;
  duplicates: number;
  refused: number;
  profiles: number;
}

/** Reads the file, keeping each line as sent; a line that is not JSON is refused here, with its number. */
async function readLines(path: string, refuse: (line: number, message: string) => void): Promise<Line[]> {
  const lines: Line[] = [];
  let n = 0;
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    n++;
    if (!text.trim()) continue;
    try {
      const m = JSON.parse(text) as Record<string, unknown>;
      lines.push({ text, ids: idsOf(m.userId, m.anonymousId, m.previousId), line: n });
    } catch (error) {
      refuse(n, `not JSON: ${(error as Error).message}`);
    }
  }
  return lines;
}

export async function runImport(
  file: string,
  options: ImportOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const base = options.url.replace(/\/$/, '');
  const auth = `Basic ${Buffer.from(`${options.key}:`).toString('base64')}`;
  const refused: string[] = [];
  const lines = await readLines(file, (line, message) => refused.push(`line ${line}: ${message}`));
  const summary: Summary = { messages: lines.length, applied: 0, duplicates: 0, refused: 0, profiles: 0 };
  const until = options.until ?? new Date().toISOString();
  const bar = options.progress
    ? new SingleBar({
        format: 'importing [{bar}] {percentage}% | {value}/{total} messages | {eta_formatted} left',
        stream: err,
      })
    : null;
  bar?.start(lines.length, 0);
  const started = Date.now();
  let done = 0;
  for (const request of linkedChunks(lines, (l) => l.ids, options.batch)) {
    const res = await fetch(`${base}/v1/import?until=${encodeURIComponent(until)}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-ndjson' },
      body: request.map((l) => l.text).join('\n'),
    });
    const body = (await res.json().catch(() => ({}))) as ImportAnswer;
    if (res.status !== 202) {
      bar?.stop();
      err.write(`tideline import: ${res.status} ${body.message ?? res.statusText}\n`);
      for (const e of body.errors ?? []) err.write(`  line ${lineOf(e.pointer, request)}: ${e.message}\n`);
      return 1;
    }
    for (const r of body.rejected ?? [])
      for (const e of r.errors) refused.push(`line ${request[r.index]?.line ?? '?'}: ${e.message}`);
    summary.refused += (body.rejected ?? []).length;
    const job = await follow(`${base}${body.import.href}`, auth, (applied) =>
      bar?.update(Math.min(lines.length, done + applied)),
    );
    done += request.length;
    summary.applied += job.applied;
    summary.duplicates += job.duplicates;
    summary.profiles += job.profiles;
    if (bar) bar.update(done);
    else err.write(`imported ${done} of ${lines.length} messages\n`);
  }
  bar?.stop();
  for (const r of refused) err.write(`refused ${r}\n`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  out.write(
    `${summary.messages} messages read, ${summary.applied} imported, ${summary.duplicates} already there, ` +
      `${refused.length} refused; ${summary.profiles} profile writes; history until ${until}; ${seconds} s\n`,
  );
  return refused.length > 0 ? 1 : 0;
}

function lineOf(pointer: unknown, request: readonly Line[]): string {
  const index = typeof pointer === 'string' ? Number(pointer.split('/')[2]) : Number.NaN;
  return Number.isInteger(index) ? String(request[index]?.line ?? '?') : '?';
}

/** Polls an import job until it has finished; reports progress on the way. */
async function follow(
  href: string,
  auth: string,
  onProgress: (applied: number) => void,
): Promise<{ applied: number; duplicates: number; profiles: number }> {
  for (;;) {
    const res = await fetch(href, { headers: { authorization: auth } });
    const view = (await res.json()) as {
      state: string;
      applied: number;
      duplicates: number;
      profiles: number;
    };
    onProgress(view.applied + view.duplicates);
    if (view.state === 'completed') return view;
    if (view.state === 'failed') throw new Error(`import job ${href} failed`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
