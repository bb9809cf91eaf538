/**
 * A worker thread of the simulator: loads the engine while the main thread reads the stream, then
 * parses the share of it that it is handed (the users whose ids it names) and replays it
 * (engine/simulation/replay.ts).
 */
import { parentPort } from 'node:worker_threads';
import { HttpError } from '../../api/errors.ts';
import { parseBatch } from '../../api/ingest/messages.ts';
import { replay, type ReplayInput, type ReplayResult } from './replay.ts';

/** A worker's share of the stream: Segment messages as received, in chunks. */
export interface Share extends Omit<ReplayInput, 'chunks' | 'onProgress'> {
  /** The newest message's time in the whole stream (the parser's arrival time). */
  newest: number;
  chunks: { until: number; messages: unknown[] }[];
  /** Messages outside the replay window: checked like the others, not replayed. */
  unused: unknown[];
}

/** Progress, the result, or that a message of the share was refused (the main thread names it). */
export type WorkerMessage = { replayed: number; result?: ReplayResult } | { refused: true };

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);

port.once('message', async ({ newest, chunks: raw, unused, ...input }: Share) => {
  let parsed;
  try {
    parsed = parseBatch({ batch: [...raw.flatMap((c) => c.messages), ...unused] }, newest);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    post({ refused: true });
    port.close();
    return;
  }
  let next = 0;
  const chunks = raw.map((chunk) => {
    const messages = parsed.slice(next, (next += chunk.messages.length));
    // Replayed history: each message arrives when it happened.
    for (const m of messages) m.receivedAt = m.timestamp;
    return { until: chunk.until, messages };
  });
  let reported = 0;
  const result = await replay({
    ...input,
    chunks,
    onProgress: (replayed) => {
      // Now and then, not per chunk.
      if (replayed - reported < 5_000) return;
      post({ replayed });
      reported = replayed;
    },
  });
  post({
    replayed: chunks.reduce((n, c) => n + c.messages.length, 0),
    result,
  });
  port.close();
});
