/**
 * A worker thread of the simulator: loads the engine while the main thread reads the stream, then runs
 * one replay over the users it is handed (engine/simulation/replay.ts).
 */
import { parentPort } from 'node:worker_threads';
import { replay, type ReplayInput } from './replay.ts';

const port = parentPort!;
port.once('message', async (input: Omit<ReplayInput, 'onProgress'>) => {
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
  port.close();
});
