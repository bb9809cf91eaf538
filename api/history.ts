import express, { type Router } from 'express';
import { once } from 'node:events';
import { MAX_STORED_STREAM, StreamTooLong, storedStream } from '../engine/simulation/stored-stream.ts';
import type { JsonObject } from '../model/json.ts';
import { type Fault, InputError } from '../model/input-error.ts';
import type { Store } from '../ports/store.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { pastPeriod } from './times.ts';

/**
 * The calls kept in the store, exported as NDJSON Segment messages (what a backtest replays): to run
 * `tideline simulate` on them, or to take them elsewhere. Personal data: the manage key only.
 */
const CHUNK = 1_000;

export function historyRoutes(keys: KeyRing, store: Store, now: () => number): Router {
  const router = express.Router();
  router.get('/v1/events/export', requireScope(keys, 'manage'), async (req, res) => {
    const faults: Fault[] = [];
    const period = pastPeriod(req.query, now(), faults);
    if (!period) throw InputError.invalid(faults);
    let messages: JsonObject[];
    try {
      messages = await storedStream(store, { ...period, maxMessages: MAX_STORED_STREAM });
    } catch (error) {
      if (error instanceof StreamTooLong)
        throw new InputError(413, 'too_large', `${error.message}: export a shorter one`);
      throw error;
    }
    res.type('application/x-ndjson');
    res.setHeader('content-disposition', 'attachment; filename="events.ndjson"');
    // Written a chunk at a time, waiting while the client is slower than the store.
    for (let i = 0; i < messages.length; i += CHUNK) {
      const lines = messages.slice(i, i + CHUNK).map((m) => `${JSON.stringify(m)}\n`);
      if (!res.write(lines.join(''))) await once(res, 'drain');
    }
    res.end();
  });
  return router;
}
