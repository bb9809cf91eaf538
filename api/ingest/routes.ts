import { jsonBody } from '../body.ts';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { InboundMessage, MessageType } from '../../model/events.ts';
import { type KeyRing, requireScope } from '../auth.ts';
import { InputError } from '../../model/input-error.ts';
import type { IngestLog } from './debug-log.ts';
import {
  MAX_BATCH_BYTES,
  MAX_MESSAGE_BYTES,
  parseBatchMessages,
  parseSingle,
  TOO_LARGE,
} from '../../engine/ingest/parse.ts';
import type { IngestLimiter } from './rate-limit.ts';

export interface Ingestor {
  /** Resolves once the messages are durable (queued); only then does the API answer 2xx. */
  accept(messages: InboundMessage[]): Promise<void>;
}

export interface IngestOptions {
  /** Origins a browser may post events from: `*` (any) or a list of exact origins. */
  corsOrigins: '*' | readonly string[];
  /** Per-key request limits; none: unlimited. */
  limiter?: IngestLimiter;
  /** Where received and rejected messages are recorded for the debugger. */
  log?: IngestLog;
}

/** Segment's long paths and the short ones its browser and mobile SDKs post to. */
const SINGLE: [MessageType, string][] = [
  ['track', 't'],
  ['identify', 'i'],
  ['page', 'p'],
  ['screen', 's'],
  ['alias', 'a'],
  ['group', 'g'],
];
const BATCH_PATHS = ['/v1/batch', '/v1/b'];
/** analytics.js posts its own delivery metrics here; accepted and dropped. */
const METRICS_PATH = '/v1/m';
export const INGEST_PATHS = [...SINGLE.flatMap(([t, s]) => [`/v1/${t}`, `/v1/${s}`]), ...BATCH_PATHS];

/** `?strict=true` or `X-Tideline-Strict: true`: one invalid message refuses the whole batch (400). */
function isStrict(req: Request): boolean {
  return req.query.strict === 'true' || req.get('x-tideline-strict') === 'true';
}

/**
 * The Segment HTTP tracking API: `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/alias`,
 * `/v1/group`, `/v1/batch` and their short forms (`/v1/t`, ..., `/v1/b`), open to browsers (CORS) on
 * these routes only.
 */
export function ingestRoutes(
  keys: KeyRing,
  ingestor: Ingestor,
  now: () => number,
  options: IngestOptions,
): Router {
  const router = express.Router();
  const { log, limiter } = options;
  const anyOrigin = options.corsOrigins === '*';
  const allowed = new Set(anyOrigin ? [] : options.corsOrigins);
  const originAllowed = (origin: string | undefined) => !origin || anyOrigin || allowed.has(origin);
  // A browser on an origin not listed is refused outright (the preflight and any simple request):
  // server SDKs send no Origin and are not concerned.
  const checkOrigin = (req: Request, _res: Response, next: NextFunction) => {
    const origin = req.get('origin');
    if (originAllowed(origin)) return next();
    next(
      new InputError(
        403,
        'origin_not_allowed',
        `origin ${origin} may not send events here (TIDELINE_CORS_ORIGINS)`,
      ),
    );
  };
  const corsHeaders = cors({
    origin: (origin, done) => done(null, originAllowed(origin)),
    methods: ['POST'],
    // The SDKs send Authorization and Content-Type; the preflight's requested headers are reflected.
    maxAge: 86_400,
  });
  const open = [checkOrigin, corsHeaders];
  for (const path of [...INGEST_PATHS, METRICS_PATH]) router.options(path, ...open);

  // Segment clients do not always send a JSON content type (browsers send text/plain to spare a
  // preflight, sendBeacon and keepalive fetch too): parse whatever arrives as JSON.
  const single = jsonBody({ limit: MAX_MESSAGE_BYTES, type: () => true });
  const batch = jsonBody({ limit: MAX_BATCH_BYTES, type: () => true });
  const ingest = requireScope(keys, 'ingest');
  const limit = limiter
    ? limiter.middleware()
    : (_req: Request, _res: Response, next: NextFunction) => {
        next();
      };

  for (const [type, short] of SINGLE) {
    for (const path of [`/v1/${type}`, `/v1/${short}`]) {
      router.post(path, ...open, single, ingest, limit, async (req, res) => {
        const receivedAt = now();
        let message: InboundMessage;
        try {
          message = parseSingle(req.body, type, receivedAt);
        } catch (err) {
          if (err instanceof InputError && log) {
            log.message(path, receivedAt, req.body, undefined, err.faults, type);
            res.locals.logged = true;
          }
          throw err;
        }
        await ingestor.accept([message]);
        log?.message(path, receivedAt, req.body, undefined, undefined, type);
        res.json({ success: true });
      });
    }
  }
  for (const path of BATCH_PATHS) {
    router.post(path, ...open, batch, ingest, limit, async (req, res) => {
      const receivedAt = now();
      const strict = isStrict(req);
      const { messages, rejected } = parseBatchMessages(req.body, receivedAt, false);
      const record = () => {
        if (!log) return;
        const raw = (req.body as { batch: unknown[] }).batch;
        const faults = new Map(rejected.map((r) => [r.index, r.errors]));
        raw.forEach((m, i) => {
          const errors =
            faults.get(i) ??
            (strict && rejected.length > 0
              ? [{ pointer: '', message: 'not applied: strict mode and the batch has invalid messages' }]
              : undefined);
          log.message(path, receivedAt, m, i, errors, undefined, errors?.[0]?.message !== TOO_LARGE);
        });
        res.locals.logged = true;
      };
      if (strict && rejected.length > 0) {
        record();
        // As before partial acceptance: the first oversized message makes it a 413, else a 400.
        parseBatchMessages(req.body, receivedAt, true);
      }
      if (messages.length > 0) await ingestor.accept(messages);
      record();
      // 200 even with rejections: every SDK drops a whole batch on a 4xx (Segment answers the same).
      if (rejected.length === 0) res.json({ success: true });
      else res.json({ success: true, accepted: messages.length, rejected });
    });
  }
  router.post(
    METRICS_PATH,
    ...open,
    express.text({ type: () => true, limit: MAX_MESSAGE_BYTES }),
    (_req, res) => {
      res.json({ success: true });
    },
  );
  // analytics.js reads its settings from `<cdnURL>/v1/projects/<writeKey>/settings`: with `cdnURL` at
  // Tideline the browser SDK needs nothing else (events go back to the host that answered).
  router.get('/v1/projects/:writeKey/settings', checkOrigin, corsHeaders, (req, res) => {
    const writeKey = String(req.params.writeKey);
    const scopes = keys.scopesOf(writeKey);
    if (!scopes.includes('ingest') && !scopes.includes('manage'))
      throw new InputError(404, 'not_found', 'no source with this write key');
    const forwarded = req.get('x-forwarded-proto')?.split(',')[0].trim();
    const protocol = forwarded === 'https' || forwarded === 'http' ? forwarded : req.protocol;
    const segmentio = {
      apiKey: writeKey,
      apiHost: `${req.get('host')}/v1`,
      protocol,
      addBundledMetadata: false,
    };
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json({ integrations: { 'Segment.io': segmentio }, plan: {}, metrics: { sampleRate: 0 } });
  });
  // A request refused as a whole (no key, not JSON, too large, rate limited, strict mode): recorded
  // for the debugger, then answered by the app's error handler.
  if (log) {
    router.use(INGEST_PATHS, (err: unknown, req: Request, res: Response, next: NextFunction) => {
      if (res.locals.logged) return next(err);
      const parser = err as { status?: number; type?: string; message?: string };
      const status = err instanceof InputError ? err.status : (parser?.status ?? 500);
      const faults =
        err instanceof InputError && err.faults.length > 0
          ? err.faults
          : [{ pointer: '', message: err instanceof Error ? err.message : 'refused' }];
      // Under a mount path req.path is what follows it: the route is the original URL's path.
      log.request(req.originalUrl.split('?')[0], now(), status, faults);
      next(err);
    });
  }
  return router;
}
