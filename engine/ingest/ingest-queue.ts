import type { InboundMessage } from '../../model/events.ts';
import type { Scheduler } from '../../ports/scheduler.ts';
import { QueuePartitions } from '../queue-partitions.ts';
import { idsOf, linkedGroups } from './linked-ids.ts';

export const INGEST_QUEUE = 'ingest';
export const INGEST_JOB = 'messages';

export interface IngestJob {
  messages: InboundMessage[];
}

export interface IngestBufferOptions {
  /** A job is queued once this many messages are waiting (for one partition). */
  maxMessages: number;
  /** ...or once the oldest has waited this long. */
  maxWaitMs: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Pending {
  messages: InboundMessage[];
  waiters: Waiter[];
}

/**
 * A request's messages by ingest partition. Messages whose ids are linked (an identify's anonymous
 * and user ids, an alias) stay together, so a batch decides as it would unpartitioned; a group goes to
 * the partition of its first user's profile (else of its first id). Each part keeps the request's order.
 */
export function ingestParts(
  messages: readonly InboundMessage[],
  partitions: QueuePartitions,
): Map<number, InboundMessage[]> {
  if (partitions.count === 1) return new Map([[0, [...messages]]]);
  const ids = (m: InboundMessage) => idsOf(m.userId, m.anonymousId, m.previousId);
  const partitionOf = new Map<InboundMessage, number>();
  for (const group of linkedGroups(messages, ids)) {
    const groupIds = group.flatMap(ids);
    const key = groupIds.find((id) => id.startsWith('u:')) ?? groupIds[0];
    const partition = key === undefined ? 0 : partitions.of(key);
    for (const m of group) partitionOf.set(m, partition);
  }
  const parts = new Map<number, InboundMessage[]>();
  for (const m of messages) {
    const partition = partitionOf.get(m) ?? 0;
    let part = parts.get(partition);
    if (!part) parts.set(partition, (part = []));
    part.push(m);
  }
  return parts;
}

/**
 * Collects the messages of concurrent requests into queue jobs, one per ingest partition, so the
 * queues carry batches and not one job per event. `accept` resolves only once every job holding the
 * request's messages is queued (durable), which is when the API may answer 2xx. A request split over
 * several partitions that fails part-way is answered with an error: the client sends it again, and
 * the messages already queued are then recognised by their messageId and applied once.
 */
export class IngestBuffer {
  private readonly pending = new Map<number, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly options: IngestBufferOptions = { maxMessages: 500, maxWaitMs: 2 },
    /** Written ahead of the queue when the queue itself is not durable (the embedded mode). */
    private readonly journal?: { append(job: IngestJob): void },
    private readonly partitions: QueuePartitions = QueuePartitions.single,
  ) {}

  accept(messages: InboundMessage[]): Promise<void> {
    const parts = [...ingestParts(messages, this.partitions)].map(([partition, part]) =>
      this.acceptPart(partition, part),
    );
    return parts.length === 1 ? parts[0] : Promise.all(parts).then(() => undefined);
  }

  /** Waits until every accepted message is queued. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  private acceptPart(partition: number, messages: InboundMessage[]): Promise<void> {
    let pending = this.pending.get(partition);
    if (pending && pending.messages.length + messages.length > this.options.maxMessages) {
      this.flushPartition(partition);
      pending = undefined;
    }
    if (!pending) this.pending.set(partition, (pending = { messages: [], waiters: [] }));
    const done = new Promise<void>((resolve, reject) => pending.waiters.push({ resolve, reject }));
    pending.messages.push(...messages);
    if (pending.messages.length >= this.options.maxMessages) this.flushPartition(partition);
    else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    return done;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const partition of [...this.pending.keys()]) this.flushPartition(partition);
  }

  private flushPartition(partition: number): void {
    const pending = this.pending.get(partition);
    if (!pending) return;
    this.pending.delete(partition);
    const { messages, waiters } = pending;
    const job: IngestJob = { messages };
    try {
      this.journal?.append(job);
    } catch (error) {
      for (const w of waiters) w.reject(error);
      return;
    }
    const queued = this.scheduler.add(this.partitions.name(INGEST_QUEUE, partition), INGEST_JOB, job).then(
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
