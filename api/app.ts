import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import type { Logger } from '../engine/ports/logger.ts';
import type { Scheduler } from '../engine/ports/scheduler.ts';
import type { Store } from '../engine/ports/store.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { HttpError } from './errors.ts';
import { type Ingestor, ingestRoutes } from './ingest/routes.ts';
import { userRoutes } from './users.ts';
import type { DefinitionStore } from '../engine/ports/definitions.ts';
import { validateSegment } from '../segments/segment.ts';
import { validateTagRule } from '../segments/tag-rule.ts';
import { type DefinitionCollection, definitionRoutes } from './definitions.ts';
import { audienceRoutes } from './audience.ts';
import type { Workspace } from '../segments/workspace.ts';

const COLLECTIONS: DefinitionCollection[] = [
  { path: 'segments', kind: 'segment', noun: 'segment', validate: (doc) => validateSegment(doc).faults },
  { path: 'tag-rules', kind: 'tagRule', noun: 'tag rule', validate: (doc) => validateTagRule(doc).faults },
];

export interface AppDeps {
  keys: KeyRing;
  store: Store;
  definitions: DefinitionStore;
  /** After a publish or archive: rebuild the live workspace. */
  onPublished: () => Promise<void>;
  /** The live workspace (segment preview reads what it already keeps). */
  workspace: () => Workspace;
  scheduler: Scheduler;
  ingestor: Ingestor;
  logger: Logger;
  now?: () => number;
  /** Shown by `GET /health`. */
  describe?: Record<string, string>;
}

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

/** Maps any error to a JSON answer; a user's mistake is never a 500. */
function errorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    let error: HttpError;
    if (err instanceof HttpError) error = err;
    else {
      const parser = err as BodyParserError;
      if (parser?.type === 'entity.too.large') {
        error = new HttpError(
          413,
          'too_large',
          'request body too large: 32 KB per message, 500 KB per batch',
        );
      } else if (parser?.type === 'entity.parse.failed') {
        error = HttpError.invalid([{ pointer: '', message: `body is not valid JSON: ${parser.message}` }]);
      } else if (parser?.status && parser.status >= 400 && parser.status < 500) {
        error = new HttpError(parser.status, 'bad_request', parser.message ?? 'bad request');
      } else {
        logger.error({ err }, 'request failed');
        error = new HttpError(500, 'internal', 'internal error; the request was not applied');
      }
    }
    res.status(error.status).json(error);
  };
}

export function createApp(deps: AppDeps): Express {
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', ...deps.describe });
  });
  app.get('/v1/status', requireScope(deps.keys, 'read'), async (_req, res) => {
    const [profiles, ingest] = await Promise.all([
      deps.store.countProfiles(),
      deps.scheduler.pending(INGEST_QUEUE),
    ]);
    res.json({ ...deps.describe, profiles, pending: { ingest } });
  });
  app.use(ingestRoutes(deps.keys, deps.ingestor, now));
  app.use(userRoutes(deps.keys, deps.store));
  app.use(audienceRoutes(deps.keys, deps.store, deps.workspace, now));
  for (const collection of COLLECTIONS) {
    app.use(definitionRoutes(deps.keys, deps.definitions, collection, deps.onPublished, now));
  }
  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger));
  return app;
}
