/**
 * Prometheus metrics of one process (prom-client): HTTP requests by route and status with their
 * latency, messages accepted for ingestion, queue depths (read from the queue when scraped), message
 * hand-overs by channel, provider and outcome with their latency (claim to settled record), jobs that
 * failed after their last retry, and prom-client's process metrics (CPU, memory, event loop lag).
 * The API serves them at `/metrics` to the read key; `TIDELINE_METRICS_PORT` serves them on a port of
 * their own (workers have no API), for a private network.
 */
import { createServer, type Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ChannelState, MessageRecord } from '../../ports/channel-state.ts';
import type { ProcessMetrics } from '../../api/process-metrics.ts';
import type { Scheduler } from '../../ports/scheduler.ts';
import type { Config } from '../config.ts';
import { QueuePartitions } from '../../engine/queue-partitions.ts';

/** The queues whose depth is reported (a partitioned queue's partitions summed). */
const QUEUES = ['ingest', 'recompute', 'profile-checks', 'journey-control', 'journey-schedules'];

export interface Metrics extends ProcessMetrics {
  /** Counts the outcomes the channel state records. */
  watchSends(state: ChannelState): ChannelState;
  jobFailed(queue: string): void;
  /** Serves `/metrics` on `port` (all interfaces' `host`); resolves with the server. */
  serve(port: number, host: string): Promise<Server>;
}

export function createMetrics(scheduler: Scheduler, partitions = QueuePartitions.single): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tideline_' });
  const http = new Counter({
    name: 'tideline_http_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const httpSeconds = new Histogram({
    name: 'tideline_http_request_duration_seconds',
    help: 'HTTP request latency, by route',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const ingested = new Counter({
    name: 'tideline_ingested_messages_total',
    help: 'Segment messages accepted (durable in the queue)',
    registers: [registry],
  });
  new Gauge({
    name: 'tideline_queue_pending_jobs',
    help: 'Jobs waiting or delayed in each queue, read when scraped',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      const depths = await Promise.all(
        QUEUES.map((q) => partitions.pending(scheduler, q).catch(() => Number.NaN)),
      );
      QUEUES.forEach((queue, i) => this.set({ queue }, depths[i]));
    },
  });
  const sends = new Counter({
    name: 'tideline_messages_total',
    help: 'Messages settled, by channel, provider and outcome (sent, failed, skipped, unknown)',
    labelNames: ['channel', 'provider', 'outcome'] as const,
    registers: [registry],
  });
  const handover = new Histogram({
    name: 'tideline_message_handover_seconds',
    help: 'From claiming a message to its settled outcome (rendering and the provider call), by provider',
    labelNames: ['provider'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const failedJobs = new Counter({
    name: 'tideline_jobs_failed_total',
    help: 'Jobs that failed after their last retry, by queue',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'tideline_http_errors_total',
    help: 'HTTP answers 500 and above, by status',
    labelNames: ['status'] as const,
    registers: [registry],
  });

  const settled = (record: MessageRecord) => {
    const provider = record.provider ?? 'none';
    sends.inc({ channel: record.channel, provider, outcome: record.status ?? record.state });
    if (record.claimedAt) handover.observe({ provider }, Math.max(0, Date.now() - record.claimedAt) / 1000);
  };

  const metrics: Metrics = {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    http(req: Request, res: Response, next: NextFunction) {
      const started = performance.now();
      res.on('finish', () => {
        // The route's pattern (`/v1/users/:id`), never the raw path: ids would make a label per user.
        const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        http.inc({ route, method: req.method, status: String(res.statusCode) });
        httpSeconds.observe({ route }, (performance.now() - started) / 1000);
        if (res.statusCode >= 500) errors.inc({ status: String(res.statusCode) });
      });
      next();
    },
    ingested: (count) => ingested.inc(count),
    watchSends(state) {
      return new Proxy(state, {
        get(target, name, receiver) {
          const value: unknown = Reflect.get(target, name, receiver);
          if (name !== 'settle' || typeof value !== 'function') return value;
          return async (record: MessageRecord, index?: string[]) => {
            await target.settle(record, index);
            if (record.state === 'done') settled(record);
          };
        },
      });
    },
    jobFailed: (queue) => failedJobs.inc({ queue }),
    serve(port, host) {
      const server = createServer((req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      });
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server));
      });
    },
  };
  return metrics;
}

/** The process's metrics, served on `TIDELINE_METRICS_PORT` too when it is set. */
export async function startMetrics(
  config: Config,
  scheduler: Scheduler,
  closers: (() => Promise<unknown>)[],
): Promise<Metrics> {
  const metrics = createMetrics(scheduler, config.queuePartitions);
  if (config.metricsPort !== undefined) {
    const server = await metrics.serve(config.metricsPort, config.host);
    closers.push(() => new Promise((resolve) => server.close(resolve)));
  }
  return metrics;
}
