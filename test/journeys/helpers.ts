import { parseBatch } from '../../api/ingest/messages.ts';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { startIngestWorker } from '../../engine/ingest/worker.ts';
import { silentLogger } from '../../engine/ports/logger.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import { Workspace } from '../../segments/workspace.ts';

const DAY = 86_400_000;

/** An engine on a virtual clock with one workspace, for journey timelines. */
export async function journeyEngine(
  definitions: { journeys: JourneyDefinition[]; segments?: SegmentDefinition[] },
  start: number,
) {
  const clock = new VirtualClock(start);
  const scheduler = new InProcessScheduler({ clock });
  const store = new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
  await store.init();
  let workspace = new Workspace({ ...definitions, timezone: 'Asia/Shanghai' });
  startIngestWorker(
    scheduler,
    store,
    { lateGraceMs: DAY, concurrency: 4, workspace: () => workspace, now: () => clock.now() },
    silentLogger,
  );
  return {
    clock,
    store,
    /** Sends Segment messages (each with its own timestamp) and lets the worker apply them. */
    async send(batch: object[]) {
      await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: parseBatch({ batch }, clock.now()) });
      await clock.advance(0);
    },
    publish(next: { journeys: JourneyDefinition[]; segments?: SegmentDefinition[] }) {
      workspace = new Workspace({ ...next, timezone: 'Asia/Shanghai' });
    },
    /** The user's journey log as `HH:MM event detail` lines, oldest first. */
    async timeline(userId: string, journeyId?: string): Promise<string[]> {
      const events = await store.recentEvents(`u:${userId}`, 1000);
      return events
        .filter(
          (e) =>
            e.type === 'internal' &&
            (e.event.startsWith('journey_') || e.event.startsWith('message_')) &&
            (journeyId === undefined || e.properties?.journeyId === journeyId),
        )
        .reverse()
        .map((e) => {
          const p = e.properties ?? {};
          const at = new Date(e.timestamp).toISOString().slice(5, 16).replace('T', ' ');
          const detail =
            e.event === 'journey_entered'
              ? `via ${p.trigger}${p.holdout ? ' (holdout)' : ''}`
              : e.event === 'journey_exited'
                ? String(p.reason)
                : e.event === 'message_sent'
                  ? `${p.channel}:${p.template} ${p.status}`
                  : e.event === 'message_skipped'
                    ? `${p.channel}:${p.template} ${p.reason}`
                    : [p.step, p.action, p.taken ?? p.path ?? p.dueAt ?? '']
                        .filter((x) => x !== '')
                        .join(' ');
          return `${at} ${e.event} ${detail}`.trim();
        });
    },
    async close() {
      await scheduler.close();
      await store.close();
    },
  };
}
