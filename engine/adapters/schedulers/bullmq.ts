import { randomUUID } from 'node:crypto';
import { type Job as BullJob, type ConnectionOptions, type DefaultJobOptions, Queue, Worker } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { connectRedis, isCluster, type RedisClient } from '../redis-connection.ts';
import type {
  Job,
  JobHandler,
  JobOptions,
  JobState,
  JobStatus,
  NewJob,
  ProcessOptions,
  RepeatSpec,
  Scheduler,
} from '../../../ports/scheduler.ts';
import type { JsonObject } from '../../../model/json.ts';

/**
 * ioredis options, with an optional `redis://` URL for what they leave out, or the seeds of a Redis
 * Cluster (then `prefix` must carry a hash tag, e.g. `tideline:{q}`: BullMQ keeps a queue in one slot;
 * queues under different tags lie on different shards).
 */
export type BullMQConnection = RedisOptions & { url?: string; clusterNodes?: readonly string[] };

export interface BullMQSchedulerOptions {
  connection: BullMQConnection;
  /** Prefix of every key BullMQ writes: one for all queues, or by queue name. */
  prefix: string | ((queue: string) => string);
  /** Runs per job, the first one included. Default 10. */
  maxAttempts?: number;
  /** Wait before the first retry, doubled for each later one. Default 1000. */
  backoffMs?: number;
  /** How long a worker's hold on a job lasts without renewal. Default 30000 (BullMQ's). */
  lockDurationMs?: number;
  /** How often workers look for jobs whose holder died. Default 30000 (BullMQ's). */
  stalledIntervalMs?: number;
  /** Called when a job has failed its last attempt. */
  onFailed?: (queue: string, job: Job<unknown>, error: unknown) => void;
  /** Connection and internal errors. Default: one line on stderr. */
  onError?: (error: Error) => void;
}

const REMOVABLE = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);
const KEEP_SECONDS = 86_400;

/** Queues and timers on Redis through BullMQ, shared by any number of processes. */
export class BullMQScheduler implements Scheduler {
  readonly kind = 'bullmq';
  private readonly options: BullMQSchedulerOptions;
  private readonly jobOptions: DefaultJobOptions;
  private readonly onError: (error: Error) => void;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private client?: RedisClient;
  /** Workers' connections on a cluster, which BullMQ is given made and leaves to us to close. */
  private readonly workerClients: RedisClient[] = [];

  constructor(options: BullMQSchedulerOptions) {
    this.options = options;
    this.jobOptions = {
      attempts: options.maxAttempts ?? 10,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    };
    this.onError =
      options.onError ?? ((error) => process.stderr.write(`tideline bullmq scheduler: ${error.message}\n`));
  }

  async add<T>(queue: string, name: string, data: T, options?: JobOptions): Promise<string> {
    const [id] = await this.addBulk(queue, [{ name, data, options }]);
    return id;
  }

  async addBulk<T>(queue: string, jobs: readonly NewJob<T>[]): Promise<string[]> {
    const q = this.queue(queue);
    // BullMQ stamps a job (its delay's start) before it waits for the connection, which on a cluster
    // first discovers the slots: connected first, a delay counts from when it is stored.
    await q.waitUntilReady();
    const ids = jobs.map((job) => job.options?.id ?? randomUUID());
    await this.forgetFinished(
      q,
      jobs.flatMap((job) => (job.options?.id === undefined ? [] : [encodeId(job.options.id)])),
    );
    await q.addBulk(
      jobs.map((job, i) => ({
        name: job.name,
        data: job.data,
        // Options are stored as JSON in each job's hash, which Redis keeps compact only while every
        // value is short: a timer carries just its id and delay (removal is the worker's setting).
        opts: {
          jobId: encodeId(ids[i]),
          delay: Math.max(0, job.options?.delay ?? 0),
          ...(job.options?.timer ? {} : this.jobOptions),
          ...(job.options?.keep ? { removeOnComplete: { age: KEEP_SECONDS } } : {}),
        },
      })),
    );
    return ids;
  }

  async cancel(queue: string, id: string): Promise<boolean> {
    const q = this.queue(queue);
    const jobId = encodeId(id);
    if (!REMOVABLE.has(await q.getJobState(jobId))) return false;
    // an active job is locked, and remove leaves it alone and answers 0
    return (await q.remove(jobId)) === 1;
  }

  async repeat<T>(queue: string, id: string, spec: RepeatSpec, name: string, data: T): Promise<void> {
    await this.queue(queue).upsertJobScheduler(
      encodeId(id),
      { pattern: spec.cron, tz: spec.tz },
      { name, data },
    );
  }

  async unrepeat(queue: string, id: string): Promise<boolean> {
    return this.queue(queue).removeJobScheduler(encodeId(id));
  }

  process<T>(queue: string, handler: JobHandler<T>, options: ProcessOptions): void {
    const { url, clusterNodes, ...redis } = this.options.connection;
    let connection: ConnectionOptions;
    if (isCluster({ clusterNodes })) {
      // BullMQ takes a cluster as a made connection, and duplicates it for its blocking commands.
      const client = connectRedis({ clusterNodes }, { ...redis, maxRetriesPerRequest: null });
      client.on('error', this.onError);
      this.workerClients.push(client);
      connection = client;
    } else {
      // BullMQ makes the worker's connections from options; blocking ones must retry forever.
      // (The cast: BullMQ declares its own RedisOptions, whose retryStrategy does not allow null.)
      connection = { ...redis, url, maxRetriesPerRequest: null } as ConnectionOptions;
    }
    const worker = new Worker<T>(queue, (job: BullJob<T>) => handler(toPortJob(job)), {
      connection,
      prefix: this.prefix(queue),
      concurrency: options.concurrency,
      // A job whose worker died is run again; BullMQ's default (1) would fail it for good after a
      // second crash. Handlers are idempotent, so re-running is safe.
      maxStalledCount: 10,
      // For jobs whose own options do not say (timers): completed ones go, failed ones stay a while.
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 1000 },
      // BullMQ fills its defaults with Object.assign, so an undefined here would erase them
      ...definedOnly({
        lockDuration: this.options.lockDurationMs,
        stalledInterval: this.options.stalledIntervalMs,
      }),
    });
    worker.on('error', this.onError);
    worker.on('failed', (job, error) => {
      if (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        // by now attemptsMade counts the attempt that just failed
        this.options.onFailed?.(queue, { ...toPortJob<unknown>(job), attempt: job.attemptsMade }, error);
      }
    });
    this.workers.push(worker);
  }

  async status(queue: string, id: string): Promise<JobStatus | null> {
    const job = await this.queue(queue).getJob(encodeId(id));
    if (job === undefined) return null;
    const state = await job.getState();
    const progress = job.progress;
    return {
      id,
      state: STATES[state] ?? 'waiting',
      progress: typeof progress === 'object' && progress !== null ? (progress as JsonObject) : null,
      attempt: Math.max(1, job.attemptsMade + (state === 'active' ? 1 : 0)),
    };
  }

  async pending(queue: string): Promise<number> {
    return this.queue(queue).getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized');
  }

  async close(): Promise<void> {
    // workers first: they finish their running jobs, which may still add jobs to the queues
    await Promise.all(this.workers.map((worker) => worker.close()));
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    await Promise.all([this.client, ...this.workerClients].map((client) => client?.quit()));
    this.workerClients.length = 0;
    this.workers.length = 0;
    this.queues.clear();
    this.client = undefined;
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, {
        connection: this.redis(),
        prefix: this.prefix(name),
      });
      queue.on('error', this.onError);
      this.queues.set(name, queue);
    }
    return queue;
  }

  private prefix(queue: string): string {
    return typeof this.options.prefix === 'string' ? this.options.prefix : this.options.prefix(queue);
  }

  /** One connection, shared by every queue of this scheduler (BullMQ leaves it to us to close). */
  private redis(): RedisClient {
    if (this.client === undefined) {
      const { url, clusterNodes, ...options } = this.options.connection;
      this.client = connectRedis({ url, clusterNodes }, options);
      this.client.on('error', this.onError);
    }
    return this.client;
  }

  /**
   * BullMQ ignores an add whose id is taken by any job, finished ones included. The port promises a
   * new job once the old one is no longer waiting, delayed or active, so a failed or kept completed
   * job whose id is added again is removed first.
   */
  private async forgetFinished(queue: Queue, jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const [failed, completed] = await Promise.all([
      this.redis().zmscore(queue.keys.failed, ...jobIds),
      this.redis().zmscore(queue.keys.completed, ...jobIds),
    ]);
    const finished = jobIds.filter((_, i) => failed[i] !== null || completed[i] !== null);
    await Promise.all(finished.map((jobId) => queue.remove(jobId)));
  }
}

/**
 * BullMQ rejects custom ids that contain ':' or look like integers, so every id becomes '#' plus
 * the id with '%' and ':' percent-escaped: any string works and Redis keys stay readable.
 */
export function encodeId(id: string): string {
  return `#${id.replace(/[%:]/g, encodeURIComponent)}`;
}

/** The inverse of `encodeId`; also turns a repeat firing's `repeat:<encoded>:<ms>` into `repeat:<id>:<ms>`. */
export function decodeId(jobId: string): string {
  if (jobId.startsWith('#')) return decodeURIComponent(jobId.slice(1));
  const firing = /^repeat:#(.*):(\d+)$/.exec(jobId);
  return firing === null ? jobId : `repeat:${decodeURIComponent(firing[1])}:${firing[2]}`;
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

const STATES: Record<string, JobState> = {
  waiting: 'waiting',
  prioritized: 'waiting',
  'waiting-children': 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
};

function toPortJob<T>(job: BullJob<T>): Job<T> {
  return {
    id: decodeId(job.id ?? ''),
    name: job.name,
    data: job.data,
    attempt: job.attemptsMade + 1,
    progress: (value) => job.updateProgress(value),
  };
}
