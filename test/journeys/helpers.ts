import { parseBatch } from '../../engine/ingest/parse.ts';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { startWorker } from '../../engine/worker.ts';
import { sendsTo } from '../helpers/sends.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import { DUE_TIMER_DELAY_MS } from '../../engine/commit/commit-loop.ts';
import { silentLogger } from '../../ports/logger.ts';
import type { JourneyDefinition, Step } from '../../journeys/journey.ts';
import { journeyLogOf, timelineLine } from '../../journeys/timeline.ts';
import type { StoredEvent } from '../../model/events.ts';
import { Workspace, type WorkspaceDefinitions } from '../../workspace/workspace.ts';

const DAY = 86_400_000;

/** An engine on a virtual clock with one workspace, for journey timelines. */
export async function journeyEngine(
  definitions: WorkspaceDefinitions,
  start: number,
  options: { gateway?: ChannelGateway; store?: MemoryStore; lateGraceMs?: number } = {},
) {
  const clock = new VirtualClock(start);
  const scheduler = new InProcessScheduler({ clock });
  const store = options.store ?? new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
  await store.init();
  let workspace = new Workspace({ ...definitions, timezone: 'Asia/Shanghai' });
  startWorker(
    scheduler,
    store,
    {
      lateGraceMs: options.lateGraceMs ?? DAY,
      concurrency: 4,
      workspace: () => workspace,
      now: () => clock.now(),
      ...sendsTo(options.gateway),
    },
    silentLogger,
  );
  async function journeyLog(userId: string, journeyId?: string): Promise<StoredEvent[]> {
    return journeyLogOf(await store.recentEvents(`u:${userId}`, 1000)).filter(
      (e) => journeyId === undefined || e.properties?.journeyId === journeyId,
    );
  }
  return {
    clock,
    store,
    scheduler,
    /**
     * Sends Segment messages (each with its own timestamp), lets the worker apply them and the user's
     * timer hand the messages they caused to the sandbox channel (a due timer runs a moment later).
     */
    async send(batch: object[]) {
      await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: parseBatch({ batch }, clock.now()) });
      await clock.advance(DUE_TIMER_DELAY_MS);
    },
    /** The live workspace (for jobs run by hand). */
    workspace: () => workspace,
    publish(next: WorkspaceDefinitions) {
      workspace = new Workspace({ ...next, timezone: 'Asia/Shanghai' });
    },
    /** The user's journey execution log entries, oldest first. */
    log: (userId: string, journeyId?: string) => journeyLog(userId, journeyId),
    /** The user's journey log as `MM-DD HH:MM event detail` lines (UTC), oldest first. */
    async timeline(userId: string, journeyId?: string): Promise<string[]> {
      return (await journeyLog(userId, journeyId)).map(timelineLine);
    },
    async close() {
      await scheduler.close();
      await store.close();
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A Segment identify call at `at`. */
export const identify = (userId: string, traits: object, at: number, extra: object = {}) => ({
  type: 'identify',
  userId,
  traits,
  timestamp: iso(at),
  ...extra,
});

/** A Segment track call at `at`. */
export const track = (
  userId: string,
  event: string,
  at: number,
  properties: object = {},
  extra: object = {},
) => ({
  type: 'track',
  userId,
  event,
  properties,
  timestamp: iso(at),
  ...extra,
});

export type Engine = Awaited<ReturnType<typeof journeyEngine>>;

/** A journey started by a `trigger` event, with the given steps. */
export const journey = (
  id: string,
  trigger: string,
  steps: Step[],
  extra: Partial<JourneyDefinition> = {},
): JourneyDefinition => ({
  id,
  version: 1,
  name: id,
  trigger: { type: 'event', event: trigger },
  steps,
  ...extra,
});

/** `pause`: on signup, wait two hours, then a sandbox message. */
export const waitThenHello = (): JourneyDefinition =>
  journey('pause', 'signup', [
    { id: 'two_hours', type: 'wait', duration: 'PT2H' },
    { id: 'hello', type: 'send', channel: 'sandbox', template: 'hello' },
  ]);
