import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createApp } from '../../api/app.ts';
import { connectRedis } from '../../engine/adapters/redis-connection.ts';
import { KeyRing } from '../../api/auth.ts';
import { IngestLog } from '../../api/ingest/debug-log.ts';
import { IngestLimiter, type RateLimit } from '../../api/ingest/rate-limit.ts';
import { inboundKeys } from '../../channels/registry.ts';
import { TestSender } from '../../channels/test-send.ts';
import { sandboxAddresses } from '../../channels/config.ts';
import type { IngestBuffer } from '../../engine/ingest/ingest-queue.ts';
import { JOURNEY_CONTROL_JOB, JOURNEY_CONTROL_QUEUE } from '../../engine/jobs/journey-control.ts';
import { RECOMPUTE_JOB, RECOMPUTE_QUEUE, recomputeJobId } from '../../engine/jobs/recompute.ts';
import type { DefinitionKind, DefinitionStore } from '../../ports/definitions.ts';
import type { Scheduler } from '../../ports/scheduler.ts';
import type { Store } from '../../ports/store.ts';
import { DOCUMENT_KINDS } from '../../workspace/kinds.ts';
import type { Availability } from '../../api/availability.ts';
import type { ProcessMetrics } from '../../api/process-metrics.ts';
import type { Config } from '../config.ts';
import { type Closers, redisTarget } from './backends.ts';
import type { Channels } from './channels.ts';
import type { LiveWorkspace } from './live-workspace.ts';

/** Definitions that decide what profiles hold: publishing one recomputes every profile. */
const RECOMPUTING = new Set<DefinitionKind>(DOCUMENT_KINDS.filter((k) => k.recomputes).map((k) => k.kind));

export interface ApiRole {
  store: Store;
  definitions: DefinitionStore;
  scheduler: Scheduler;
  buffer: IngestBuffer;
  workspace: LiveWorkspace;
  channels: Channels;
  /** What the process runs on, for the API's description of itself. */
  describe: Record<string, string>;
  availability: Availability;
  metrics: ProcessMetrics;
  /** Once a user is erased from the store: what the process keeps of them on disk. */
  erased?: () => Promise<void>;
}

/** Rate limits are counted in Redis when processes share one (queue or store), else in this process. */
async function openLimiter(config: Config, limit: RateLimit, closers: Closers): Promise<IngestLimiter> {
  if (config.queue !== 'bullmq' && config.store !== 'redis') return new IngestLimiter(limit);
  const client = connectRedis(redisTarget(config), { lazyConnect: true, enableOfflineQueue: false });
  await client.connect();
  closers.push(() => client.quit());
  return new IngestLimiter(limit, { client, prefix: config.prefix });
}

/**
 * The HTTP API, listening; answers with the server, the URL it is reached at, and what to close on
 * the way out (the ingestion debugger's live tails).
 */
export async function startApi(
  config: Config,
  role: ApiRole,
  closers: Closers,
  logger: Logger,
): Promise<{ server: Server; url: string; close(): void }> {
  const { scheduler, workspace } = role;
  const ingestLog = new IngestLog();
  const keys = new KeyRing([
    { key: config.keys.write, scopes: ['ingest'] },
    { key: config.keys.read, scopes: ['read'] },
    { key: config.keys.admin, scopes: ['manage'] },
  ]);
  // Its providers are built on the first test send, and closed with the process.
  const tester = new TestSender({ channels: role.channels.config, logger });
  closers.push(() => tester.close());
  const app = createApp({
    tester,
    keys,
    store: role.store,
    definitions: role.definitions,
    onPublished: async (kind) => {
      await workspace.refresh();
      if (!RECOMPUTING.has(kind)) return null;
      // Users who send nothing new still enter or leave what was just published.
      const live = workspace.fingerprint();
      return scheduler.add(
        RECOMPUTE_QUEUE,
        RECOMPUTE_JOB,
        { live },
        { id: recomputeJobId(live), keep: true },
      );
    },
    onJourneyState: async (journeyId, version) => {
      await workspace.refresh();
      return scheduler.add(
        JOURNEY_CONTROL_QUEUE,
        JOURNEY_CONTROL_JOB,
        { journeyId },
        { id: `journey-state-${journeyId}-${version}`, keep: true },
      );
    },
    workspace: () => workspace.current(),
    scheduler,
    partitions: config.queuePartitions,
    ingestor: role.buffer,
    channels: {
      state: role.channels.state,
      links: role.channels.links,
      ...inboundKeys(role.channels.config),
      simulated: {
        policy: role.channels.config.policy,
        sandboxAddresses: sandboxAddresses(role.channels.config),
      },
    },
    ingestion: {
      corsOrigins: config.corsOrigins,
      limiter: config.rateLimit ? await openLimiter(config, config.rateLimit, closers) : undefined,
      log: ingestLog,
    },
    availability: role.availability,
    metrics: role.metrics,
    ...(role.erased ? { erased: role.erased } : {}),
    logger,
    describe: role.describe,
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
  logger.info({ url }, `API listening on ${url}`);
  return { server, url, close: () => ingestLog.close() };
}
