/**
 * A worker thread of the simulator: loads the engine while the main thread reads the stream, then
 * replays the share of it that it is handed (the users whose ids it names).
 */
import { parentPort } from 'node:worker_threads';
import { InputError } from '../../model/input-error.ts';
import { type ReplayResult, replayShare, type Share } from './replay.ts';

/** Progress, the result, or that a message of the share was refused (the main thread names it). */
export type WorkerMessage = { replayed: number; result?: ReplayResult } | { refused: true };

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);

port.once('message', async (share: Share) => {
  let reported = 0;
  try {
    const result = await replayShare(share, (replayed) => {
      // Now and then, not per chunk.
      if (replayed - reported < 5_000) return;
      post({ replayed });
      reported = replayed;
    });
    post({ replayed: share.chunks.reduce((n, c) => n + c.messages.length, 0), result });
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    post({ refused: true });
  }
  port.close();
});
