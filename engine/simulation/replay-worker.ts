/** A worker thread of the simulator: one replay over the users it was given (engine/simulation/replay.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { replay, type ReplayInput } from './replay.ts';

const port = parentPort!;
const input = workerData as Omit<ReplayInput, 'onProgress'>;
let reported = 0;
const result = await replay({
  ...input,
  onProgress: (replayed) => {
    // Now and then, not per chunk.
    if (replayed - reported < 5_000) return;
    port.postMessage({ replayed });
    reported = replayed;
  },
});
port.postMessage({ replayed: input.chunks.reduce((n, c) => n + c.messages.length, 0), result });
