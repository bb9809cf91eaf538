import express, { type Router } from 'express';
import { type KeyRing, requireScope } from '../auth.ts';
import { InputError } from '../../model/input-error.ts';
import type { IngestLog } from './debug-log.ts';

const MAX_LIST = 5000;

/**
 * The ingestion debugger over the read API: `GET /v1/ingest/messages` lists the last messages this
 * process received (newest first; `status=rejected|accepted`, `limit`), and
 * `GET /v1/ingest/messages/stream` is a live tail as server-sent events (one `message` event per
 * entry, its `id` the entry's `seq`).
 */
export function ingestDebuggerRoutes(keys: KeyRing, log: IngestLog): Router {
  const router = express.Router();
  const read = requireScope(keys, 'read');
  const statusOf = (raw: unknown): 'accepted' | 'rejected' | undefined => {
    if (raw === undefined || raw === '') return undefined;
    if (raw === 'accepted' || raw === 'rejected') return raw;
    throw InputError.invalid([{ pointer: '/query/status', message: 'must be accepted or rejected' }]);
  };
  router.get('/v1/ingest/messages', read, (req, res) => {
    const status = statusOf(req.query.status);
    const rawLimit = req.query.limit === undefined ? '100' : String(req.query.limit);
    const limit = Number(rawLimit);
    if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > MAX_LIST) {
      throw InputError.invalid([
        { pointer: '/query/limit', message: `must be an integer from 1 to ${MAX_LIST}` },
      ]);
    }
    res.json({ capacity: log.capacity, messages: log.list({ limit, status }) });
  });
  router.get('/v1/ingest/messages/stream', read, (req, res) => {
    const status = statusOf(req.query.status);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': tail of received messages\n\n');
    const stop = log.tail(
      (entry) => {
        if (status && entry.status !== status) return;
        res.write(`id: ${entry.seq}\nevent: message\ndata: ${JSON.stringify(entry)}\n\n`);
      },
      () => res.end(),
    );
    // A comment now and then keeps proxies from closing an idle stream.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(keepAlive);
      stop();
    });
  });
  return router;
}
