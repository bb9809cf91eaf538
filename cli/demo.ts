import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseBatch } from '../engine/ingest/parse.ts';
import { IMPORT_JOB, IMPORT_QUEUE, type ImportJob } from '../engine/jobs/import.ts';
import type { Scheduler } from '../ports/scheduler.ts';

export const DEMO_EVENTS = fileURLToPath(new URL('../fixtures/sample-events.ndjson', import.meta.url));
const DAY = 86_400_000;

/** The demo's last day is applied live (its journeys run); everything before is imported history. */
const LIVE_MS = DAY;

/**
 * Imports the committed sample stream, shifted by whole days so that it ends within the last day:
 * everything older than a day is history (profiles, segments, lifecycle built as of then, no journey
 * reacts), the last day is applied live, each user's history and live day in one decision, so no move that the user's
 * own activity refutes is ever announced.
 */
export async function loadDemo(
  scheduler: Pick<Scheduler, 'add'>,
  path = DEMO_EVENTS,
  now = Date.now(),
): Promise<{ messages: number; userId: string | null; importId: string }> {
  const raw: Record<string, unknown>[] = [];
  for await (const line of createInterface({ input: createReadStream(path) })) {
    if (line.trim()) raw.push(JSON.parse(line) as Record<string, unknown>);
  }
  // Moved by whole days (each call keeps its hour) so that the sample's last call falls within the
  // last 24 hours: the live day is always the sample's own last 24 hours, whatever the hour of the
  // start, and nothing lies in the future.
  const last = Math.max(...raw.map((m) => Date.parse(String(m.timestamp))));
  const shift = Math.floor((now - last) / DAY) * DAY;
  const shifted = raw
    .map((m) => ({ ...m, timestamp: new Date(Date.parse(String(m.timestamp)) + shift).toISOString() }))
    .filter((m) => Date.parse(m.timestamp) <= now);
  const until = now - LIVE_MS;
  const messages = parseBatch({ batch: shifted }, now);
  for (const m of messages) if (m.timestamp <= until) m.receivedAt = m.timestamp;
  const importId = `import-demo-${now}`;
  const job: ImportJob = { messages, until };
  await scheduler.add(IMPORT_QUEUE, IMPORT_JOB, job, { id: importId, keep: true });
  const buyer = raw.find(
    (m) => m.type === 'track' && m.event === 'order_paid' && typeof m.userId === 'string',
  );
  return { messages: shifted.length, userId: buyer ? String(buyer.userId) : null, importId };
}
