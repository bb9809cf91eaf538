import type { Logger } from '../ports/logger.ts';
import type { Scheduler } from '../ports/scheduler.ts';
import type { Store } from '../ports/store.ts';
import { type ApplyBatchOptions, applyBatch } from './apply-batch.ts';
import { INGEST_QUEUE, type IngestJob } from './ingest-queue.ts';

export interface IngestWorkerOptions extends ApplyBatchOptions {
  concurrency: number;
}

/** Consumes the ingest queue: each job is a batch of messages applied to profiles exactly once. */
export function startIngestWorker(
  scheduler: Scheduler,
  store: Store,
  options: IngestWorkerOptions,
  logger: Logger,
): void {
  scheduler.process<IngestJob>(
    INGEST_QUEUE,
    async (job) => {
      const result = await applyBatch(store, job.data.messages, options);
      logger.debug({ job: job.id, attempt: job.attempt, ...result }, 'batch applied');
    },
    { concurrency: options.concurrency },
  );
}
