import type { InboundMessage } from '../../model/events.ts';
import type { Scheduler } from '../../ports/scheduler.ts';

export const INGEST_QUEUE = 'ingest';
export const INGEST_JOB = 'messages';

export interface IngestJob {
  messages: InboundMessage[];
}

export interface IngestBufferOptions {
  /** A job is queued once this many messages are waiting. */
  maxMessages: number;
  /** ...or once the oldest has waited this long. */
  maxWaitMs: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Collects the messages of concurrent requests into one queue job, so the queue carries
 * batches and not one job per event. `accept` resolves only once the job holding the messages
 * is queued (durable), which is when the API may answer 2xx. A request's messages always travel
 * in one job, keeping a Segment batch together.
 */
export class IngestBuffer {
  private messages: InboundMessage[] = [];
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly options: IngestBufferOptions = { maxMessages: 500, maxWaitMs: 2 },
    /** Written ahead of the queue when the queue itself is not durable (the embedded mode). */
    private readonly journal?: { append(job: IngestJob): void },
  ) {}

  accept(messages: InboundMessage[]): Promise<void> {
    if (this.messages.length > 0 && this.messages.length + messages.length > this.options.maxMessages)
      this.flush();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.messages.push(...messages);
    if (this.messages.length >= this.options.maxMessages) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    return done;
  }

  /** Waits until every accepted message is queued. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.messages.length === 0) return;
    const messages = this.messages;
    const waiters = this.waiters;
    this.messages = [];
    this.waiters = [];
    const job: IngestJob = { messages };
    try {
      this.journal?.append(job);
    } catch (error) {
      for (const w of waiters) w.reject(error);
      return;
    }
    const queued = this.scheduler.add(INGEST_QUEUE, INGEST_JOB, job).then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (error: unknown) => {
        for (const w of waiters) w.reject(error);
      },
    );
    this.inFlight.add(queued);
    void queued.finally(() => this.inFlight.delete(queued));
  }
}
