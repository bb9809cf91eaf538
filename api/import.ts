import { randomBytes } from 'node:crypto';
import express, { Router } from 'express';
import { parseBatchMessages, type Rejection } from '../engine/ingest/parse.ts';
import { IMPORT_JOB, IMPORT_QUEUE, type ImportJob } from '../engine/jobs/import.ts';
import { InputError } from '../model/input-error.ts';
import { isJsonObject } from '../model/json.ts';
import type { JobStatus, Scheduler } from '../ports/scheduler.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { jsonBody, tooDeep } from './body.ts';

/** One import request at most (the `tideline import` command sends a large file in several). */
export const MAX_IMPORT_BYTES = 20 * 1024 * 1024;

/** How far an import has got, as `GET /v1/imports/:id` answers it. */
export function importView(status: JobStatus) {
  const progress = status.progress ?? {};
  const count = (name: string) => (typeof progress[name] === 'number' ? (progress[name] as number) : 0);
  const total = count('total');
  const done = count('applied') + count('duplicates');
  return {
    id: status.id,
    href: `/v1/imports/${status.id}`,
    state: status.state,
    total,
    applied: count('applied'),
    duplicates: count('duplicates'),
    profiles: count('profiles'),
    percent: status.state === 'completed' ? 100 : total ? Math.min(99, Math.floor((100 * done) / total)) : 0,
  };
}

/** An NDJSON body as a batch: one message per line; a line that is not JSON is refused alone. */
function ndjsonBatch(text: string): { batch: unknown[]; unreadable: Rejection[] } {
  const batch: unknown[] = [];
  const unreadable: Rejection[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const value: unknown = JSON.parse(line);
      const deep = tooDeep(value);
      if (deep !== null) throw new Error(deep);
      batch.push(value);
    } catch (error) {
      // Kept in the batch as a placeholder so that indexes stay line numbers; refused below.
      batch.push(null);
      unreadable.push({
        index: batch.length - 1,
        errors: [
          {
            pointer: `/batch/${batch.length - 1}`,
            message: `line ${i + 1} is not JSON: ${(error as Error).message}`,
          },
        ],
      });
    }
  });
  return { batch, unreadable };
}

/**
 * Imports of history, with the admin key: `POST /v1/import` takes NDJSON (one Segment message per
 * line) or a Segment batch (`{"batch": [...]}`), and `?until=` (default: now). Messages up to `until`
 * build profiles silently; later ones are applied live. Answers 202 with a job to follow at
 * `GET /v1/imports/:id`; invalid messages are listed (their indexes are lines of the NDJSON) and the
 * valid ones imported, unless `?strict=true`.
 */
export function importRoutes(keys: KeyRing, scheduler: Scheduler, now: () => number): Router {
  const router = Router();
  const ndjson = express.text({
    type: ['application/x-ndjson', 'application/jsonl', 'text/plain'],
    limit: MAX_IMPORT_BYTES,
  });
  const json = jsonBody({ type: 'application/json', limit: MAX_IMPORT_BYTES });
  router.post('/v1/import', requireScope(keys, 'manage'), ndjson, json, async (req, res) => {
    const at = now();
    const until = untilOf(req.query.until, at);
    const strict = req.query.strict === 'true';
    let body: unknown = req.body;
    let unreadable: Rejection[] = [];
    if (typeof body === 'string') {
      const read = ndjsonBatch(body);
      body = { batch: read.batch };
      unreadable = read.unreadable;
    }
    if (!isJsonObject(body) || !Array.isArray(body.batch))
      throw InputError.invalid([
        { pointer: '', message: 'send NDJSON (one message per line) or {"batch": [...]}' },
      ]);
    const lines = body.batch;
    const parsed = parseBatchMessages({ ...body, batch: lines.map((m) => m ?? {}) }, at, false);
    const bad = new Set(unreadable.map((r) => r.index));
    const rejected = [...unreadable, ...parsed.rejected.filter((r) => !bad.has(r.index))].sort(
      (a, b) => a.index - b.index,
    );
    if (strict && rejected.length > 0) throw InputError.invalid(rejected.flatMap((r) => r.errors));
    if (parsed.messages.length === 0)
      throw InputError.invalid(
        rejected.length > 0
          ? rejected.flatMap((r) => r.errors)
          : [{ pointer: '/batch', message: 'no messages to import' }],
      );
    // History counts as received when it happened (nothing of it is late); the live part as now.
    for (const m of parsed.messages) if (m.timestamp <= until) m.receivedAt = m.timestamp;
    const id = `import-${new Date(at).toISOString().slice(0, 10)}-${randomBytes(6).toString('hex')}`;
    const job: ImportJob = { messages: parsed.messages, until };
    await scheduler.add(IMPORT_QUEUE, IMPORT_JOB, job, { id, keep: true });
    const status = await scheduler.status(IMPORT_QUEUE, id);
    res.status(202).json({
      import: status ? importView(status) : { id, href: `/v1/imports/${id}` },
      until: new Date(until).toISOString(),
      accepted: parsed.messages.length,
      ...(rejected.length > 0 ? { rejected } : {}),
    });
  });
  router.get('/v1/imports/:id', requireScope(keys, 'read'), async (req, res) => {
    const id = String(req.params.id);
    const status = await scheduler.status(IMPORT_QUEUE, id);
    if (!status) throw new InputError(404, 'not_found', `no import '${id}' (finished ones are kept a day)`);
    res.json(importView(status));
  });
  return router;
}

/** `?until=`: an ISO 8601 time, not after now; default now. */
function untilOf(value: unknown, now: number): number {
  if (value === undefined) return now;
  const at = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(at))
    throw InputError.invalid([
      { pointer: '/until', message: 'must be an ISO 8601 time, such as 2026-12-01T00:00:00Z' },
    ]);
  if (at > now) throw InputError.invalid([{ pointer: '/until', message: 'must not be in the future' }]);
  return at;
}
