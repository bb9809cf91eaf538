import { CronExpressionParser } from 'cron-parser';
import { trackWork } from '../../clock.ts';
import { copyJson, type JsonObject } from '../../../model/json.ts';
import type { Clock, TimerHandle } from '../../../ports/clock.ts';
import type {
  Job,
  JobHandler,
  JobOptions,
  JobStatus,
  NewJob,
  ProcessOptions,
  RepeatSpec,
  Scheduler,
} from '../../../ports/scheduler.ts';

export interface InProcessSchedulerOptions {
  clock: Clock;
  /** Runs per job, the first one included. Default 10. */
  maxAttempts?: number;
  /** Wait before the first retry, doubled for each later one. Default 1000. */
  backoffMs?: number;
  /** Called when a job has failed its last attempt. */
  onFailed?: (queue: string, job: Job<unknown>, error: unknown) => void;
}

const KEEP_FAILED = 1000;
export type FailedJob = Omit<Job<unknown>, 'progress'>;
const KEEP_FINISHED = 1000;

interface Entry {
  id: string;
  name: string;
  /**
   * A copy of the data as JSON would give it back (copyJson), as a Redis-backed queue would store it,
   * so handlers never share objects with callers; each run gets its own copy.
   */
  payload: unknown;
  attempt: number;
  state: 'waiting' | 'delayed' | 'active';
  keep: boolean;
  /** No retries. */
  once?: boolean;
  progress: JsonObject | null;
  timer?: TimerHandle;
  firing?: { schedule: Schedule; at: number };
}

interface Schedule {
  id: string;
  spec: RepeatSpec;
  name: string;
  payload: unknown;
  next?: Entry;
}

class Lane {
  constructor(readonly queue: string) {}
  /** Waiting, delayed and active jobs by id. */
  readonly entries = new Map<string, Entry>();
  /** Waiting jobs in arrival order. */
  readonly ready = new Set<Entry>();
  readonly schedules = new Map<string, Schedule>();
  readonly failed: FailedJob[] = [];
  /** Outcomes of finished jobs added with `keep`, oldest first. */
  readonly kept = new Map<string, JobStatus>();
  handler?: JobHandler<unknown>;
  concurrency = 0;
  running = 0;
}

/** Queues and timers in memory, on a real clock (embedded mode) or a virtual one (simulation, tests). */
export class InProcessScheduler implements Scheduler {
  readonly kind = 'in-process';
  private readonly clock: Clock;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly onFailed?: InProcessSchedulerOptions['onFailed'];
  private readonly lanes = new Map<string, Lane>();
  private readonly running = new Set<Promise<void>>();
  private lastId = 0;
  private closed = false;

  constructor(options: InProcessSchedulerOptions) {
    this.clock = options.clock;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.backoffMs = options.backoffMs ?? 1000;
    this.onFailed = options.onFailed;
  }

  async add<T>(queue: string, name: string, data: T, options: JobOptions = {}): Promise<string> {
    this.assertOpen();
    return this.enqueue(this.lane(queue), name, data, options);
  }

  async addBulk<T>(queue: string, jobs: readonly NewJob<T>[]): Promise<string[]> {
    this.assertOpen();
    const lane = this.lane(queue);
    return jobs.map((job) => this.enqueue(lane, job.name, job.data, job.options ?? {}));
  }

  async cancel(queue: string, id: string): Promise<boolean> {
    const lane = this.lane(queue);
    const entry = lane.entries.get(id);
    if (entry === undefined || entry.state === 'active') return false;
    this.remove(lane, entry);
    return true;
  }

  async repeat<T>(queue: string, id: string, spec: RepeatSpec, name: string, data: T): Promise<void> {
    this.assertOpen();
    nextFiring(spec, this.clock.now()); // throws on a bad expression or zone before anything changes
    const lane = this.lane(queue);
    this.dropSchedule(lane, id);
    const schedule: Schedule = { id, spec, name, payload: toPayload(data) };
    lane.schedules.set(id, schedule);
    this.plan(lane, schedule, this.clock.now());
  }

  async unrepeat(queue: string, id: string): Promise<boolean> {
    return this.dropSchedule(this.lane(queue), id);
  }

  process<T>(queue: string, handler: JobHandler<T>, options: ProcessOptions): void {
    const lane = this.lane(queue);
    if (lane.handler !== undefined) throw new Error(`queue ${queue} already has a processor`);
    lane.handler = handler as JobHandler<unknown>;
    lane.concurrency = options.concurrency;
    this.dispatch(lane);
  }

  async status(queue: string, id: string): Promise<JobStatus | null> {
    const lane = this.lane(queue);
    const entry = lane.entries.get(id);
    if (entry === undefined) return lane.kept.get(id) ?? null;
    return { id, state: entry.state, progress: entry.progress, attempt: entry.attempt };
  }

  async pending(queue: string): Promise<number> {
    return this.pendingNow(queue);
  }

  /** `pending`, answered synchronously: the queue lives in this process. */
  pendingNow(queue: string): number {
    return this.lane(queue).entries.size;
  }

  /** The data of the jobs not finished yet (waiting, delayed, running), in the order they were added. */
  pendingData(queue: string): unknown[] {
    return [...this.lane(queue).entries.values()].map((entry) => copyJson(entry.payload));
  }

  /** Jobs that failed their last attempt, oldest first (the last 1000 per queue). */
  failed(queue: string): FailedJob[] {
    return [...this.lane(queue).failed];
  }

  /** Resolves when no job is running or ready to run right now. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const entry of lane.entries.values()) {
        if (entry.timer !== undefined) this.clock.clearTimer(entry.timer);
      }
    }
    await this.idle();
  }

  private lane(queue: string): Lane {
    let lane = this.lanes.get(queue);
    if (lane === undefined) {
      lane = new Lane(queue);
      this.lanes.set(queue, lane);
    }
    return lane;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('scheduler is closed');
  }

  private enqueue(lane: Lane, name: string, data: unknown, options: JobOptions): string {
    const id = options.id ?? this.nextId(lane);
    if (lane.entries.has(id)) return id;
    const entry: Entry = {
      id,
      name,
      payload: toPayload(data),
      attempt: 1,
      state: 'waiting',
      keep: options.keep ?? false,
      once: options.timer ?? false,
      progress: null,
    };
    lane.entries.set(id, entry);
    this.schedule(lane, entry, options.delay ?? 0);
    return id;
  }

  private nextId(lane: Lane): string {
    let id: string;
    do id = String(++this.lastId);
    while (lane.entries.has(id));
    return id;
  }

  private schedule(lane: Lane, entry: Entry, delay: number): void {
    if (delay > 0) {
      entry.state = 'delayed';
      // once closed, no timer may outlive close(); the job stays delayed in memory
      if (!this.closed) entry.timer = this.clock.setTimer(() => this.promote(lane, entry), delay);
    } else {
      this.promote(lane, entry);
    }
  }

  private promote(lane: Lane, entry: Entry): void {
    entry.state = 'waiting';
    entry.timer = undefined;
    const firing = entry.firing;
    // Like BullMQ, the next firing is planned when this one comes due, never in the past.
    if (firing !== undefined && firing.schedule.next === entry) {
      this.plan(lane, firing.schedule, Math.max(this.clock.now(), firing.at));
    }
    lane.ready.add(entry);
    this.dispatch(lane);
  }

  private plan(lane: Lane, schedule: Schedule, from: number): void {
    const at = nextFiring(schedule.spec, from);
    const entry: Entry = {
      id: `repeat:${schedule.id}:${at}`,
      name: schedule.name,
      payload: schedule.payload,
      attempt: 1,
      state: 'delayed',
      keep: false,
      progress: null,
      firing: { schedule, at },
    };
    schedule.next = entry;
    lane.entries.set(entry.id, entry);
    this.schedule(lane, entry, at - this.clock.now());
  }

  private dropSchedule(lane: Lane, id: string): boolean {
    const schedule = lane.schedules.get(id);
    if (schedule === undefined) return false;
    lane.schedules.delete(id);
    const next = schedule.next;
    if (next !== undefined && next.state !== 'active' && lane.entries.get(next.id) === next) {
      this.remove(lane, next);
    }
    schedule.next = undefined;
    return true;
  }

  private remove(lane: Lane, entry: Entry): void {
    if (entry.timer !== undefined) this.clock.clearTimer(entry.timer);
    lane.ready.delete(entry);
    lane.entries.delete(entry.id);
  }

  private dispatch(lane: Lane): void {
    while (!this.closed && lane.handler !== undefined && lane.running < lane.concurrency) {
      const entry = first(lane.ready);
      if (entry === undefined) return;
      lane.ready.delete(entry);
      entry.state = 'active';
      lane.running++;
      const work = this.run(lane, lane.handler, entry);
      this.running.add(work);
      const done = () => this.running.delete(work);
      work.then(done, done);
      trackWork(this.clock, work);
    }
  }

  private async run(lane: Lane, handler: JobHandler<unknown>, entry: Entry): Promise<void> {
    const job: Job<unknown> = {
      id: entry.id,
      name: entry.name,
      data: copyJson(entry.payload),
      attempt: entry.attempt,
      progress: async (value) => {
        entry.progress = structuredClone(value);
      },
    };
    const finish = (state: 'completed' | 'failed') => {
      lane.entries.delete(entry.id);
      if (!entry.keep) return;
      lane.kept.delete(entry.id);
      lane.kept.set(entry.id, { id: entry.id, state, progress: entry.progress, attempt: entry.attempt });
      if (lane.kept.size > KEEP_FINISHED) lane.kept.delete(lane.kept.keys().next().value as string);
    };
    try {
      await handler(job);
      finish('completed');
    } catch (error) {
      if (!entry.once && entry.attempt < this.maxAttempts) {
        const wait = this.backoffMs * 2 ** (entry.attempt - 1);
        entry.attempt++;
        this.schedule(lane, entry, wait);
      } else {
        finish('failed');
        const { progress: _progress, ...failed } = job;
        lane.failed.push(failed);
        if (lane.failed.length > KEEP_FAILED) lane.failed.shift();
        this.onFailed?.(lane.queue, job, error);
      }
    } finally {
      lane.running--;
      this.dispatch(lane);
    }
  }
}

function nextFiring(spec: RepeatSpec, from: number): number {
  return CronExpressionParser.parse(spec.cron, { currentDate: new Date(from), tz: spec.tz })
    .next()
    .getTime();
}

function toPayload(data: unknown): unknown {
  return copyJson(data ?? null);
}

function first<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}
