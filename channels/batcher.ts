/**
 * Gathers deliveries to a provider that takes many in one call (Aliyun SendBatchSms, up to 100
 * numbers for one template) while they arrive together, and sends each group as one call. A batch is
 * named before it goes (`batchId`, the provider's OutId), so a message of a batch whose answer was
 * lost can be looked up by it. An answer that may concern one recipient only (a bad number, bad
 * parameters) is not applied to the whole batch: those messages are sent again one by one, which is
 * safe because the batch was refused.
 */
import { createHash } from 'node:crypto';
import type { ChannelProvider, Delivery, ProviderResult } from './provider.ts';

/** A provider's answer, and the batch the message went in (when it did). */
export type BatchedResult = ProviderResult & { batchId?: string };

interface Waiting<A, M> {
  delivery: Delivery<A, M>;
  resolve: (result: BatchedResult) => void;
}

export interface BatcherOptions<A, M> {
  provider: ChannelProvider<A, M> & Required<Pick<ChannelProvider<A, M>, 'sendBatch'>>;
  /** Deliveries that may share a call (Aliyun: the same template). */
  groupOf: (delivery: Delivery<A, M>) => string;
  /** Records the batch's id on its messages before the call goes. */
  name: (messageIds: string[], batchId: string) => Promise<void>;
  /** Wraps each provider call (the provider's lane of calls in flight). */
  call: <T>(fn: () => Promise<T>) => Promise<T>;
  max?: number;
  /** How long the first delivery of a group waits for company. */
  waitMs?: number;
}

/** Classes that may be about one recipient of a batch: retried alone. */
const PER_RECIPIENT = new Set(['PERM_RECIPIENT', 'PERM_MESSAGE']);

export class Batcher<A, M> {
  private readonly groups = new Map<string, Waiting<A, M>[]>();
  private readonly max: number;
  private readonly waitMs: number;

  constructor(private readonly options: BatcherOptions<A, M>) {
    this.max = options.max ?? 100;
    this.waitMs = options.waitMs ?? 5;
  }

  send(delivery: Delivery<A, M>): Promise<BatchedResult> {
    return new Promise((resolve) => {
      const key = this.options.groupOf(delivery);
      let group = this.groups.get(key);
      if (!group) {
        this.groups.set(key, (group = []));
        setTimeout(() => void this.flush(key), this.waitMs);
      }
      group.push({ delivery, resolve });
      if (group.length >= this.max) void this.flush(key);
    });
  }

  private async flush(key: string): Promise<void> {
    const group = this.groups.get(key);
    if (!group || group.length === 0) return;
    this.groups.delete(key);
    const { provider, call } = this.options;
    const one = (w: Waiting<A, M>) =>
      call(() => provider.send(w.delivery)).then(w.resolve, (error: unknown) =>
        w.resolve({ class: 'UNKNOWN', detail: (error as Error).message }),
      );
    if (group.length === 1) return one(group[0]);
    const ids = group.map((w) => w.delivery.messageId);
    const batchId = `b${createHash('sha1').update(ids.join('\n')).digest('hex').slice(0, 24)}`;
    let results: ProviderResult[];
    try {
      await this.options.name(ids, batchId);
      results = await call(() => provider.sendBatch(group.map((w) => ({ ...w.delivery, batchId }))));
    } catch (error) {
      results = group.map(() => ({ class: 'UNKNOWN', detail: (error as Error).message }));
    }
    await Promise.all(
      group.map((w, i) =>
        PER_RECIPIENT.has(results[i].class) ? one(w) : w.resolve({ ...results[i], batchId }),
      ),
    );
  }
}
