import { jsonBody } from '../body.ts';
import express, { type Router } from 'express';
import type { InboundMessage, MessageType } from '../../model/events.ts';
import { type KeyRing, requireScope } from '../auth.ts';
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, parseBatch, parseSingle } from './messages.ts';

export interface Ingestor {
  /** Resolves once the messages are durable (queued); only then does the API answer 2xx. */
  accept(messages: InboundMessage[]): Promise<void>;
}

const SINGLE: MessageType[] = ['track', 'identify', 'page', 'screen', 'alias'];

/** The Segment HTTP tracking API: `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/alias`, `/v1/batch`. */
export function ingestRoutes(keys: KeyRing, ingestor: Ingestor, now: () => number): Router {
  const router = express.Router();
  // Segment clients do not always send a JSON content type; parse whatever arrives as JSON.
  const single = jsonBody({ limit: MAX_MESSAGE_BYTES, type: () => true });
  const batch = jsonBody({ limit: MAX_BATCH_BYTES, type: () => true });
  const ingest = requireScope(keys, 'ingest');

  for (const type of SINGLE) {
    router.post(`/v1/${type}`, single, ingest, async (req, res) => {
      await ingestor.accept([parseSingle(req.body, type, now())]);
      res.json({ success: true });
    });
  }
  router.post('/v1/batch', batch, ingest, async (req, res) => {
    await ingestor.accept(parseBatch(req.body, now()));
    res.json({ success: true });
  });
  return router;
}
