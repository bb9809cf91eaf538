import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseBatch } from '../engine/ingest/parse.ts';
import type { InboundMessage } from '../model/events.ts';

export const DEMO_EVENTS = fileURLToPath(new URL('../fixtures/sample-events.ndjson', import.meta.url));
const DAY = 86_400_000;

/**
 * Imports the committed sample stream as history, shifted by whole days so that it ends today.
 * It is an import: each event counts as received when it happened, so none is flagged late.
 */
export async function loadDemo(
  ingestor: { accept(messages: InboundMessage[]): Promise<void> },
  path = DEMO_EVENTS,
  now = Date.now(),
): Promise<{ messages: number; userId: string | null }> {
  const raw: Record<string, unknown>[] = [];
  for await (const line of createInterface({ input: createReadStream(path) })) {
    if (line.trim()) raw.push(JSON.parse(line) as Record<string, unknown>);
  }
  // The sample's last day becomes today and what would lie in the future is left out, so "the last
  // 24 hours" always hold a full day of the stream whatever the hour.
  const last = Math.max(...raw.map((m) => Date.parse(String(m.timestamp))));
  const shift = (Math.floor(now / DAY) - Math.floor(last / DAY)) * DAY;
  const shifted = raw
    .map((m) => ({ ...m, timestamp: new Date(Date.parse(String(m.timestamp)) + shift).toISOString() }))
    .filter((m) => Date.parse(m.timestamp) <= now);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < shifted.length; i += 500) {
    const messages = parseBatch({ batch: shifted.slice(i, i + 500) }, now);
    for (const m of messages) m.receivedAt = m.timestamp;
    pending.push(ingestor.accept(messages));
  }
  await Promise.all(pending);
  const buyer = raw.find(
    (m) => m.type === 'track' && m.event === 'order_paid' && typeof m.userId === 'string',
  );
  return { messages: shifted.length, userId: buyer ? String(buyer.userId) : null };
}
