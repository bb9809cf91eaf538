/**
 * A worker thread of the simulator: loads the engine while the main thread reads the stream, then
 * replays the share of it that it is handed (the users whose ids it names): its header first, then
 * its chunks in parts, replayed as they come while the main thread hands over the rest.
 */
import { parentPort } from 'node:worker_threads';
import { InputError } from '../../model/input-error.ts';
import { type ReplayResult, replayParts, type Share, type ShareHeader } from './replay.ts';

/** Progress, the result, or that a message of the share was refused (the main thread names it). */
export type WorkerMessage = { replayed: number; result?: ReplayResult } | { refused: true };

/** What the main thread posts: the share's header, then parts of its chunks, then the end. */
export type ToWorker = { header: ShareHeader } | { part: Share['chunks'] } | { end: true };

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);

/** The parts posted so far and not yet replayed, handed out in order. */
const parts: Share['chunks'][] = [];
let ended = false;
let wake: (() => void) | null = null;

async function* arriving(): AsyncGenerator<Share['chunks']> {
  for (;;) {
    const part = parts.shift();
    if (part) yield part;
    else if (ended) return;
    else await new Promise<void>((resolve) => (wake = resolve));
  }
}

port.on('message', (message: ToWorker) => {
  if ('header' in message) void run(message.header);
  else if ('part' in message) parts.push(message.part);
  else ended = true;
  wake?.();
  wake = null;
});

async function run(header: ShareHeader): Promise<void> {
  let reported = 0;
  let replayed = 0;
  try {
    const result = await replayParts(header, arriving(), (n) => {
      replayed = n;
      // Now and then, not per chunk.
      if (n - reported < 5_000) return;
      post({ replayed: n });
      reported = n;
    });
    post({ replayed, result });
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    post({ refused: true });
  }
  port.close();
}
