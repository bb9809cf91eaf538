import { applyBatch } from '../ingest/apply-batch.ts';
import { INGEST_QUEUE, type IngestJob } from '../ingest/ingest-queue.ts';
import type { RegisterJob } from './context.ts';

/** Batches of accepted messages, applied to profiles exactly once. */
export const registerIngestJob: RegisterJob = (context) => {
  for (const queue of context.partitions.consumedNames(INGEST_QUEUE))
    context.scheduler.process<IngestJob>(
      queue,
      async (job) => {
        const result = await applyBatch(context.store, job.data.messages, {
          lateGraceMs: context.lateGraceMs,
          now: context.now,
          workspace: context.workspace(),
          scheduleChecks: context.scheduleChecks,
          callWebhook: context.callWebhook,
        });
        context.logger.debug({ job: job.id, attempt: job.attempt, ...result }, 'batch applied');
      },
      { concurrency: context.partitions.perPartition(context.concurrency) },
    );
};
