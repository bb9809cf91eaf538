import express, { type Router } from 'express';
import { storedStream } from '../engine/simulation/stored-stream.ts';
import { type Fault, InputError } from '../model/input-error.ts';
import type { Store } from '../ports/store.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { pastPeriod } from './times.ts';

/**
 * The calls kept in the store, exported as NDJSON Segment messages (what a backtest replays): to run
 * `tideline simulate` on them, or to take them elsewhere. Personal data: the manage key only.
 */
export function historyRoutes(keys: KeyRing, store: Store, now: () => number): Router {
  const router = express.Router();
  router.get('/v1/events/export', requireScope(keys, 'manage'), async (req, res) => {
    const faults: Fault[] = [];
    const period = pastPeriod(req.query, now(), faults);
    if (!period) throw InputError.invalid(faults);
    const messages = await storedStream(store, period);
    res.type('application/x-ndjson');
    res.setHeader('content-disposition', 'attachment; filename="events.ndjson"');
    res.end(messages.map((m) => `${JSON.stringify(m)}\n`).join(''));
  });
  return router;
}
