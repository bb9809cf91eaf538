import type { JsonObject } from '../model/json.ts';

/**
 * The queue and timer port. Adapters: in process (on a real or virtual clock) and BullMQ on Redis.
 * Jobs carry small payloads; the state they act on lives in the store and is re-read when they run.
 */
export interface JobOptions {
  /**
   * Deterministic id: adding a job whose id is already waiting, delayed or active is a no-op.
   * Any string; adapters encode it as their backend requires.
   */
  id?: string;
  /** Run no earlier than this many milliseconds from now. */
  delay?: number;
  /** Keep the job's outcome and last progress readable by `status` for a day after it finishes. */
  keep?: boolean;
  /**
   * A user's timer: one attempt, no retries (a sweeper re-adds timers that are lost or fail), and
   * stored as small as the backend allows, since millions of them may be parked.
   */
  timer?: boolean;
}

export interface NewJob<T> {
  name: string;
  data: T;
  options?: JobOptions;
}

export interface Job<T> {
  id: string;
  name: string;
  data: T;
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
  /** Records how far the job has got (e.g. `{ scanned, total }`), readable through `status`. */
  progress(value: JsonObject): Promise<void>;
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export interface JobStatus {
  id: string;
  state: JobState;
  /** The last value the handler reported, null before the first report. */
  progress: JsonObject | null;
  attempt: number;
}

export type JobHandler<T> = (job: Job<T>) => Promise<void>;

export interface RepeatSpec {
  /** A cron expression (5 or 6 fields, cron-parser syntax). */
  cron: string;
  /** IANA timezone the expression is read in, e.g. `Asia/Shanghai`. */
  tz: string;
}

export interface ProcessOptions {
  concurrency: number;
}

export interface Scheduler {
  readonly kind: 'in-process' | 'bullmq';
  add<T>(queue: string, name: string, data: T, options?: JobOptions): Promise<string>;
  addBulk<T>(queue: string, jobs: readonly NewJob<T>[]): Promise<string[]>;
  /** Removes a waiting or delayed job. False when there was none (or it is already running). */
  cancel(queue: string, id: string): Promise<boolean>;
  /** Creates or replaces a repeatable schedule; each firing adds a job with this name and data. */
  repeat<T>(queue: string, id: string, spec: RepeatSpec, name: string, data: T): Promise<void>;
  unrepeat(queue: string, id: string): Promise<boolean>;
  /** Starts consuming a queue. Failed jobs are retried with backoff. */
  process<T>(queue: string, handler: JobHandler<T>, options: ProcessOptions): void;
  /**
   * A job's state and progress by id: while it waits or runs, and after it finished if it was added
   * with `keep`. Null when there is no such job (or it finished without `keep`).
   */
  status(queue: string, id: string): Promise<JobStatus | null>;
  /** Jobs not yet finished (waiting, delayed, active) in a queue. */
  pending(queue: string): Promise<number>;
  /** Stops taking new jobs, waits for running ones, releases connections. */
  close(): Promise<void>;
}
