import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import { RECOMPUTE_QUEUE } from '../engine/jobs/recompute.ts';
import { checkJobId, PROFILE_CHECKS_QUEUE } from '../engine/jobs/checks.ts';
import { QueuePartitions } from '../engine/queue-partitions.ts';
import type { Logger } from '../ports/logger.ts';
import type { JobStatus, Scheduler } from '../ports/scheduler.ts';
import type { Store } from '../ports/store.ts';
import { type KeyRing, presentedKey, requireScope } from './auth.ts';
import { InputError } from '../model/input-error.ts';
import { type Ingestor, type IngestOptions, ingestRoutes } from './ingest/routes.ts';
import { IngestLog } from './ingest/debug-log.ts';
import { ingestDebuggerRoutes } from './ingest/debugger.ts';
import { type Erasure, userRoutes } from './users.ts';
import { journeyRoutes } from './journeys.ts';
import { reportRoutes } from './reports.ts';
import { consoleRoutes } from './console.ts';
import type { DefinitionKind, DefinitionStore } from '../ports/definitions.ts';
import { journeyContext } from '../journeys/context.ts';
import { type DefinitionCollection, definitionRoutes } from './definitions.ts';
import { audienceRoutes } from './audience.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { LinkSigner } from '../channels/links.ts';
import type { SimulatedChannels } from '../engine/simulation/replay.ts';
import type { ChannelState } from '../ports/channel-state.ts';
import { channelRoutes } from './channels.ts';
import { DOCUMENT_KINDS, NO_REFERENCES } from '../workspace/kinds.ts';
import { inboundRoutes } from './inbound.ts';
import { importRoutes } from './import.ts';
import type { WechatCallbackKeys } from '../channels/registry.ts';
import type { Availability } from './availability.ts';
import type { ProcessMetrics } from './process-metrics.ts';
import { parseDocumentText } from '../workspace/document-text.ts';
import { historyRoutes } from './history.ts';
import { templateRoutes } from './templates.ts';
import type { TestSender } from '../channels/test-send.ts';

/** The API's document collections: one per workspace document kind. */
const collections = (definitions: DefinitionStore): DefinitionCollection[] =>
  DOCUMENT_KINDS.map(({ path, kind, noun, singleton, refers, validate }) => ({
    path,
    kind,
    noun,
    ...(singleton ? { singleton } : {}),
    // A journey may name any segment or template that exists (publish them before the journey).
    validate: async (doc: unknown) =>
      validate(doc, refers ? await journeyContext(definitions) : NO_REFERENCES),
  }));

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
  /** How the ingest and timer queues are partitioned (default: one partition). */
  partitions?: QueuePartitions;
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
    /** The send policy and apps of the channels file, for the dry run's sandbox. */
    simulated?: SimulatedChannels;
  };
  /** Test sends of the template editor through the configured providers (absent: they answer 503). */
  tester?: TestSender;
  /** Shown by `GET /health`. */
  describe?: Record<string, string>;
  /** Whether the store and queues are reachable (`/ready`, fast 503s); absent: always. */
  availability?: Availability;
  /** The process's Prometheus metrics, served at `/metrics` to the read key. */
  metrics?: ProcessMetrics;
  /** Once a user is erased from the store: what the process keeps of them on disk. */
  erased?: Erasure['after'];
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
  limit?: number;
  /** The raw body, on a parse failure. */
  body?: string;
}

const formatBytes = (bytes: number): string =>
  bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MB`
    : bytes >= 1024 && bytes % 1024 === 0
      ? `${bytes / 1024} KB`
      : `${bytes} bytes`;

/** Errors of a Redis or MongoDB client that lost its server (or never reached it). */
const unreachable = (err: unknown): boolean => {
  const e = err as { name?: string; code?: string; message?: string } | null;
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    e?.name === 'MongoServerSelectionError' ||
    e?.name === 'MongoNetworkError' ||
    e?.name === 'MongoNetworkTimeoutError' ||
    e?.code === 'ECONNREFUSED' ||
    e?.code === 'ECONNRESET' ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED/.test(e?.message ?? '')
  );
};

const unavailable = (availability: Availability | undefined) => {
  const error = new InputError(
    503,
    'unavailable',
    'the store or queue is unreachable: nothing was applied; retry later',
  );
  return { error, retryAfter: String(availability?.retryAfterSeconds ?? 5) };
};

/** Maps any error to a JSON answer; a user's mistake is never a 500. */
function errorHandler(logger: Logger, availability?: Availability) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    let error: InputError;
    if (err instanceof InputError) error = err;
    else if (unreachable(err) || (availability && !availability.available())) {
      const answer = unavailable(availability);
      res.setHeader('Retry-After', answer.retryAfter);
      error = answer.error;
    } else {
      const parser = err as BodyParserError;
      if (parser?.type === 'entity.too.large') {
        // The limit of the route that refused it (a message, a batch, a definition...).
        const limit = typeof parser.limit === 'number' ? parser.limit : null;
        error = new InputError(
          413,
          'too_large',
          limit === null
            ? 'request body too large'
            : `request body too large: this route takes at most ${formatBytes(limit)}`,
        );
      } else if (parser?.type === 'entity.parse.failed') {
        // Where in the body: line and column, as an editor shows them.
        const parsed = typeof parser.body === 'string' ? parseDocumentText(parser.body) : null;
        const fault =
          parsed && 'fault' in parsed
            ? { ...parsed.fault, message: `body is ${parsed.fault.message}` }
            : { pointer: '', message: `body is not valid JSON: ${parser.message}` };
        error = InputError.invalid([fault]);
      } else if (parser?.status && parser.status >= 400 && parser.status < 500) {
        error = new InputError(parser.status, 'bad_request', parser.message ?? 'bad request');
      } else {
        logger.error({ err }, 'request failed');
        error = new InputError(500, 'internal', 'internal error; the request was not applied');
      }
    }
    res.status(error.status).json(error);
  };
}

export function createApp(deps: AppDeps): Express {
  const now = deps.now ?? Date.now;
  const partitions = deps.partitions ?? QueuePartitions.single;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const metrics = deps.metrics;
  if (metrics) app.use((req, res, next) => metrics.http(req, res, next));
  // Messages counted once they are durable.
  const ingestor: Ingestor = metrics
    ? {
        accept: async (messages) => {
          await deps.ingestor.accept(messages);
          metrics.ingested(messages.length);
        },
      }
    : deps.ingestor;
  // Alive: the process answers (whatever its dependencies do).
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', ...deps.describe });
  });
  // Ready: the store and queue answer and a worker has reported recently.
  app.get('/ready', async (_req, res) => {
    const report = deps.availability
      ? await deps.availability.ready()
      : { ready: true, checks: { store: 'ok', queue: 'ok', worker: 'ok' } };
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : 'not ready', ...report });
  });
  if (metrics) {
    app.get('/metrics', requireScope(deps.keys, 'read'), async (_req, res) => {
      res.type(metrics.contentType).send(await metrics.text());
    });
  }
  // While Redis is known to be down, answer at once rather than queue the request behind it.
  app.use((_req, res, next) => {
    if (!deps.availability || deps.availability.available()) return next();
    const answer = unavailable(deps.availability);
    res.setHeader('Retry-After', answer.retryAfter);
    res.status(503).json(answer.error);
  });
  app.get('/v1/status', requireScope(deps.keys, 'read'), async (_req, res) => {
    const [profiles, ingest] = await Promise.all([
      deps.store.countProfiles(),
      partitions.pending(deps.scheduler, INGEST_QUEUE),
    ]);
    res.json({ ...deps.describe, profiles, pending: { ingest } });
  });
  // What the presented key may do: the console offers editing only to a key that can manage.
  app.get('/v1/key', requireScope(deps.keys, 'read'), (req, res) => {
    res.json({ scopes: deps.keys.scopesOf(presentedKey(req) ?? '') });
  });
  const recompute = async (id: string) => {
    const status = await deps.scheduler.status(RECOMPUTE_QUEUE, id);
    return status ? recomputeView(status) : { id, href: `/v1/recomputes/${id}` };
  };
  // How far the recompute after a publication has got (its id is in the publish answer).
  app.get('/v1/recomputes/:id', requireScope(deps.keys, 'read'), async (req, res) => {
    const id = String(req.params.id);
    const status = await deps.scheduler.status(RECOMPUTE_QUEUE, id);
    if (!status)
      throw new InputError(404, 'not_found', `no recompute '${id}' (finished ones are kept a day)`);
    res.json(recomputeView(status));
  });
  app.use(importRoutes(deps.keys, deps.scheduler, now));
  const ingestLog = deps.ingestion?.log ?? new IngestLog();
  app.use(
    ingestRoutes(deps.keys, ingestor, now, {
      corsOrigins: '*',
      ...deps.ingestion,
      log: ingestLog,
    }),
  );
  app.use(ingestDebuggerRoutes(deps.keys, ingestLog));
  const channelState = deps.channels?.state;
  app.use(
    userRoutes(deps.keys, deps.store, deps.workspace, now, {
      before: async (key, profile) => {
        await channelState?.forgetProfile(key);
        // The user's re-check timer carries their key.
        if (typeof profile.checkAt === 'number') {
          await deps.scheduler.cancel(
            partitions.name(PROFILE_CHECKS_QUEUE, partitions.of(key)),
            checkJobId({ key, at: profile.checkAt }),
          );
        }
      },
      after: async (key, profile) => {
        // This process's debugger log; other API processes' logs roll over.
        ingestLog.forget(
          new Set([...(profile.userId === null ? [] : [profile.userId]), ...profile.anonymousIds]),
        );
        await deps.erased?.(key, profile);
      },
    }),
  );
  app.use(
    journeyRoutes(
      deps.keys,
      deps.store,
      deps.definitions,
      deps.workspace,
      deps.onJourneyState ?? (async () => null),
      now,
      deps.channels?.simulated,
    ),
  );
  app.use(historyRoutes(deps.keys, deps.store, now));
  app.use(audienceRoutes(deps.keys, deps.store, deps.workspace, now));
  app.use(reportRoutes(deps.keys, deps.store, deps.workspace, now));
  app.use(consoleRoutes());
  if (deps.channels) {
    app.use(channelRoutes({ keys: deps.keys, ...deps.channels, ingestor, now }));
    app.use(inboundRoutes({ ...deps.channels, ingestor, logger: deps.logger, now }));
  }
  app.use(templateRoutes(deps.keys, deps.store, deps.definitions, deps.tester));
  for (const collection of collections(deps.definitions)) {
    app.use(definitionRoutes(deps.keys, deps.definitions, collection, deps.onPublished, recompute, now));
  }
  app.use((req, _res, next) => next(new InputError(404, 'not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger, deps.availability));
  return app;
}
