import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import { RECOMPUTE_QUEUE } from '../engine/profiles/recompute.ts';
import type { Logger } from '../engine/ports/logger.ts';
import type { JobStatus, Scheduler } from '../engine/ports/scheduler.ts';
import type { Store } from '../engine/ports/store.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { HttpError } from './errors.ts';
import { type Ingestor, type IngestOptions, ingestRoutes } from './ingest/routes.ts';
import { IngestLog } from './ingest/debug-log.ts';
import { ingestDebuggerRoutes } from './ingest/debugger.ts';
import { userRoutes } from './users.ts';
import { journeyRoutes } from './journeys.ts';
import { reportRoutes } from './reports.ts';
import { consoleRoutes } from './console.ts';
import type { DefinitionKind, DefinitionStore } from '../engine/ports/definitions.ts';
import { journeyContext } from '../journeys/context.ts';
import { validateJourney, validateTemplate } from '../journeys/validate.ts';
import { validateSegment } from '../segments/segment.ts';
import { validateTagRule } from '../segments/tag-rule.ts';
import { validateValueModel } from '../segments/value-model-config.ts';
import { validateLifecycleConfig } from '../engine/lifecycle/config.ts';
import { type DefinitionCollection, definitionRoutes } from './definitions.ts';
import { audienceRoutes } from './audience.ts';
import type { Workspace } from '../segments/workspace.ts';
import type { LinkSigner } from '../channels/links.ts';
import type { ChannelState } from '../engine/ports/channel-state.ts';
import { channelRoutes } from './channels.ts';
import { inboundRoutes } from './inbound.ts';
import type { WechatCallbackKeys } from '../channels/registry.ts';

function collections(definitions: DefinitionStore): DefinitionCollection[] {
  return [
    { path: 'segments', kind: 'segment', noun: 'segment', validate: (doc) => validateSegment(doc).faults },
    { path: 'tag-rules', kind: 'tagRule', noun: 'tag rule', validate: (doc) => validateTagRule(doc).faults },
    {
      path: 'lifecycle',
      kind: 'lifecycle',
      noun: 'lifecycle config',
      singleton: 'lifecycle',
      validate: (doc) => validateLifecycleConfig(doc).faults,
    },
    {
      path: 'value-model',
      kind: 'valueModel',
      noun: 'value model',
      singleton: 'value-model',
      validate: validateValueModel,
    },
    {
      path: 'templates',
      kind: 'template',
      noun: 'template',
      validate: (doc) => validateTemplate(doc).faults,
    },
    {
      path: 'journeys',
      kind: 'journey',
      noun: 'journey',
      // A journey may name any segment or template that exists (publish them before the journey).
      validate: async (doc) => validateJourney(doc, await journeyContext(definitions)).faults,
    },
  ];
}

export interface AppDeps {
  keys: KeyRing;
  store: Store;
  definitions: DefinitionStore;
  /**
   * After a publish or archive: rebuild the live workspace; answers the id of the recompute job it
   * queued, if what changed reads or writes profiles.
   */
  onPublished: (kind: DefinitionKind) => Promise<string | null>;
  /** After a journey is paused, resumed or stopped: refresh, and walk its users; answers the job id. */
  onJourneyState?: (journeyId: string, version: number) => Promise<string | null>;
  /** The live workspace (segment preview reads what it already keeps). */
  workspace: () => Workspace;
  scheduler: Scheduler;
  ingestor: Ingestor;
  /** Browser origins, per-key rate limits and the debugger's log (default: any origin, no limit). */
  ingestion?: Partial<IngestOptions>;
  logger: Logger;
  now?: () => number;
  /** Click and unsubscribe links, message records, alerts and providers' pushes (absent: no routes). */
  channels?: {
    state: ChannelState;
    links: LinkSigner;
    aliyunToken?: string;
    wechatCallbacks?: WechatCallbackKeys[];
  };
  /** Shown by `GET /health`. */
  describe?: Record<string, string>;
}

export function recomputeView(status: JobStatus) {
  const progress = status.progress ?? {};
  const total = typeof progress.total === 'number' ? progress.total : null;
  const scanned = typeof progress.scanned === 'number' ? progress.scanned : 0;
  return {
    id: status.id,
    href: `/v1/recomputes/${status.id}`,
    state: status.state,
    total,
    scanned,
    changed: typeof progress.changed === 'number' ? progress.changed : 0,
    percent:
      status.state === 'completed' ? 100 : total ? Math.min(99, Math.floor((100 * scanned) / total)) : 0,
  };
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
  const recompute = async (id: string) => {
    const status = await deps.scheduler.status(RECOMPUTE_QUEUE, id);
    return status ? recomputeView(status) : { id, href: `/v1/recomputes/${id}` };
  };
  // How far the recompute after a publication has got (its id is in the publish answer).
  app.get('/v1/recomputes/:id', requireScope(deps.keys, 'read'), async (req, res) => {
    const id = String(req.params.id);
    const status = await deps.scheduler.status(RECOMPUTE_QUEUE, id);
    if (!status) throw new HttpError(404, 'not_found', `no recompute '${id}' (finished ones are kept a day)`);
    res.json(recomputeView(status));
  });
  const ingestLog = deps.ingestion?.log ?? new IngestLog();
  app.use(
    ingestRoutes(deps.keys, deps.ingestor, now, {
      corsOrigins: '*',
      ...deps.ingestion,
      log: ingestLog,
    }),
  );
  app.use(ingestDebuggerRoutes(deps.keys, ingestLog));
  app.use(userRoutes(deps.keys, deps.store, deps.workspace, now));
  app.use(
    journeyRoutes(
      deps.keys,
      deps.store,
      deps.definitions,
      deps.workspace,
      deps.onJourneyState ?? (async () => null),
      now,
    ),
  );
  app.use(audienceRoutes(deps.keys, deps.store, deps.workspace, now));
  app.use(reportRoutes(deps.keys, deps.store, deps.workspace, now));
  app.use(consoleRoutes());
  if (deps.channels) {
    app.use(channelRoutes({ keys: deps.keys, ...deps.channels, ingestor: deps.ingestor, now }));
    app.use(inboundRoutes({ ...deps.channels, ingestor: deps.ingestor, logger: deps.logger, now }));
  }
  for (const collection of collections(deps.definitions)) {
    app.use(definitionRoutes(deps.keys, deps.definitions, collection, deps.onPublished, recompute, now));
  }
  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger));
  return app;
}
