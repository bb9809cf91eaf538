/**
 * One replay: the real engine (memory store, in-process queue) on a virtual clock over a planned stream,
 * then each user's timeline and the totals. The simulator runs one per worker thread, each over its own
 * users (engine/simulation/simulate.ts).
 */
import { parseBatch } from '../ingest/parse.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import { journeyLogOf, timelineLine } from '../../journeys/timeline.ts';
import { Workspace, type WorkspaceDefinitions } from '../../workspace/workspace.ts';
import { InProcessScheduler } from '../adapters/schedulers/in-process.ts';
import { MemoryStore } from '../adapters/stores/memory.ts';
import { VirtualClock } from '../clock.ts';
import { readCounterDays } from '../../conversions/counters.ts';
import type { InboundMessage, StoredEvent } from '../../model/events.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../ingest/ingest-queue.ts';
import { startWorker } from '../worker.ts';
import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import { DEFAULT_POLICY, type SendPolicy } from '../../channels/config.ts';
import { Dispatcher, type SandboxAddresses } from '../../channels/dispatcher.ts';
import { LinkSigner } from '../../channels/links.ts';
import { MemoryChannelState } from '../adapters/channel-state/memory.ts';
import { httpWebhookCaller } from '../adapters/webhooks/http.ts';
import { JOURNEY_SCHEDULE_JOB, JOURNEY_SCHEDULE_QUEUE, journeyScheduleId } from '../jobs/journey-schedule.ts';
import { silentLogger } from '../../ports/logger.ts';

const DAY = 86_400_000;

export interface JourneyTotals {
  entered: number;
  holdout: number;
  /** Messages the sandbox took, by `step/channel` (what providers would have been handed). */
  sends: Record<string, number>;
  /** By `step/reason`: skipped when decided (no address, consent, quiet hours) or at the channel (caps). */
  skipped: Record<string, number>;
  /** Messages that could not be sent, by `step/reason` (a template that does not render). */
  failed: Record<string, number>;
  exits: Record<string, number>;
  /** Enrollments whose goal came within the goal window (holdout ones counted apart), as the reports count them. */
  goalReached: number;
  holdoutGoalReached: number;
}

/** Messages applied together, after the clock has moved to `until` (timers due before fire first). */
export interface Chunk {
  until: number;
  messages: InboundMessage[];
}

export interface ReplayInput {
  definitions: Omit<WorkspaceDefinitions, 'journeys' | 'valueModel'> & {
    journeys: readonly JourneyDefinition[];
  };
  timezone: string;
  from: number;
  to: number;
  /** In order; from a worker thread, as they arrive. */
  chunks: Iterable<Chunk> | AsyncIterable<Chunk>;
  /** Called after each chunk with the number of messages replayed so far. */
  onProgress?: (replayed: number) => void;
  /** The send policy and the channels' apps (a workspace's `channels.json`); default: none named. */
  channels?: SimulatedChannels;
}

/** What the channels file says that changes what the sandbox records. */
export interface SimulatedChannels {
  policy: SendPolicy;
  sandboxAddresses: SandboxAddresses;
}

export interface ReplayResult {
  users: number;
  journeys: Record<string, JourneyTotals>;
  /** [profile key, user id (anonymous visitors as `anonymous:<id>`), log lines], by profile key. */
  timelines: [string, string, string[]][];
}

export async function replay(input: ReplayInput): Promise<ReplayResult> {
  const clock = new VirtualClock(input.from);
  const scheduler = new InProcessScheduler({ clock });
  const store = new MemoryStore({
    eventRetentionMs: 3650 * DAY,
    dedupeHorizonMs: 3650 * DAY,
    compress: false,
    shareProfiles: true,
  });
  await store.init();
  const workspace = new Workspace({ ...input.definitions, timezone: input.timezone, dryRun: true });
  startWorker(
    scheduler,
    store,
    {
      lateGraceMs: DAY,
      concurrency: 1,
      workspace: () => workspace,
      now: () => clock.now(),
      // A dry run: messages go to the sandbox the way a channel without a provider sends (address,
      // consent, rendering, caps), webhook steps make no call (the workspace says so).
      gateway: new Dispatcher({
        state: new MemoryChannelState(),
        providers: {},
        policy: input.channels?.policy ?? DEFAULT_POLICY,
        sandboxAddresses: input.channels?.sandboxAddresses ?? {},
        templates: (id) => workspace.templates.get(id),
        triggerEvent: async (key, trigger) =>
          (await store.recentEvents(key, 500, trigger.at)).find((e) => e.messageId === trigger.messageId) ??
          null,
        links: new LinkSigner('https://links.invalid', 'simulation'),
        sandbox: new SandboxChannel(),
        logger: silentLogger,
        timezone: input.timezone,
        now: () => clock.now(),
      }),
      callWebhook: httpWebhookCaller,
    },
    silentLogger,
  );
  // Scheduled journeys fire on the virtual clock like everything else.
  for (const [id, journey] of workspace.journeys.scheduled) {
    const trigger = journey.definition.trigger;
    if (trigger.type !== 'schedule') continue;
    const spec = { cron: trigger.cron, tz: trigger.tz };
    await scheduler.repeat(JOURNEY_SCHEDULE_QUEUE, journeyScheduleId(id), spec, JOURNEY_SCHEDULE_JOB, {
      journeyId: id,
    });
  }
  try {
    let replayed = 0;
    for await (const chunk of input.chunks) {
      // Timers due before the chunk fire first; one due at its very instant, after it (as the decision
      // of a batch orders them).
      await clock.advanceTo(Math.max(clock.now(), chunk.until - 1));
      clock.jumpTo(chunk.until);
      await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: chunk.messages });
      await clock.advance(0);
      replayed += chunk.messages.length;
      input.onProgress?.(replayed);
    }
    await clock.advanceTo(input.to);
    return await report(store, workspace, input.from, input.to);
  } finally {
    await scheduler.close();
    await store.close();
  }
}

/** A share of the stream for one replay: Segment messages as received, in chunks. */
export interface Share extends Omit<ReplayInput, 'chunks' | 'onProgress'> {
  /** The newest message's time in the whole stream (the parser's arrival time). */
  newest: number;
  chunks: { until: number; messages: unknown[] }[];
  /** Messages outside the replay window: checked like the others, not replayed. */
  unused: unknown[];
}

/** A share without its chunks: what a worker thread is handed first, the chunks following in parts. */
export type ShareHeader = Omit<Share, 'chunks'>;

/**
 * Parses a share as the ingestion API does (throwing its InputError for a refused message; its
 * pointers are into the share), each message arriving when it happened, and replays it.
 */
export async function replayShare(
  { newest, chunks, unused, ...input }: Share,
  onProgress?: (replayed: number) => void,
): Promise<ReplayResult> {
  return replay({
    ...input,
    chunks: parseChunks(chunks, newest, unused),
    ...(onProgress ? { onProgress } : {}),
  });
}

/**
 * replayShare over a share whose chunks come in parts (each non-empty) from the main thread while it
 * is still handing over the rest: each part is parsed as it comes and its chunks replayed, so handing
 * over, parsing and replaying overlap. The messages outside the window are checked first.
 */
export async function replayParts(
  { newest, unused, ...input }: ShareHeader,
  parts: AsyncIterable<Share['chunks']>,
  onProgress?: (replayed: number) => void,
): Promise<ReplayResult> {
  if (unused.length > 0) parseBatch({ batch: unused }, newest);
  async function* chunks(): AsyncGenerator<Chunk> {
    for await (const part of parts) yield* parseChunks(part, newest);
  }
  return replay({ ...input, chunks: chunks(), ...(onProgress ? { onProgress } : {}) });
}

/** Raw chunks parsed in one batch (with `unused`, only checked), as received when they happened. */
function parseChunks(raw: Share['chunks'], newest: number, unused: unknown[] = []): Chunk[] {
  const parsed = parseBatch({ batch: [...raw.flatMap((c) => c.messages), ...unused] }, newest);
  for (const m of parsed) m.receivedAt = m.timestamp;
  let next = 0;
  return raw.map((c) => ({ until: c.until, messages: parsed.slice(next, (next += c.messages.length)) }));
}

async function report(
  store: MemoryStore,
  workspace: Workspace,
  from: number,
  to: number,
): Promise<ReplayResult> {
  const journeys: Record<string, JourneyTotals> = {};
  for (const j of workspace.journeys.live) journeys[j.id] = emptyTotals();
  const timelines: [string, string, string[]][] = [];
  let users = 0;
  let cursor: string | null = null;
  do {
    const page = await store.scanProfiles(cursor, 500);
    for (const profile of page.profiles) {
      users++;
      const history = store.storedHistory(profile.key);
      const log = journeyLogOf(history);
      if (log.length === 0) continue;
      const name = profile.userId ?? `anonymous:${profile.key.slice(2)}`;
      timelines.push([profile.key, name, log.map(timelineLine)]);
      count(journeys, log);
    }
    cursor = page.cursor;
  } while (cursor !== null);
  // Goals are counted by the engine's attribution, as for the reports.
  for (const [id, totals] of Object.entries(journeys)) {
    for (const day of await readCounterDays(store, id, from, to))
      for (const [field, n] of day) {
        const [metric, , group] = field.split('|');
        if (metric === 'c' && group === 't') totals.goalReached += n;
        if (metric === 'c' && group === 'h') totals.holdoutGoalReached += n;
      }
  }
  return { users, journeys, timelines };
}

export const emptyTotals = (): JourneyTotals => ({
  entered: 0,
  holdout: 0,
  sends: {},
  skipped: {},
  failed: {},
  exits: {},
  goalReached: 0,
  holdoutGoalReached: 0,
});

const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/** Adds `part` into `sum`. */
export function addTotals(sum: JourneyTotals, part: JourneyTotals): void {
  sum.entered += part.entered;
  sum.holdout += part.holdout;
  sum.goalReached += part.goalReached;
  sum.holdoutGoalReached += part.holdoutGoalReached;
  for (const field of ['sends', 'skipped', 'failed', 'exits'] as const)
    for (const [key, n] of Object.entries(part[field])) bump(sum[field], key, n);
}

/** Statuses of a message not sent: not settled yet, or a holdout's shadow. */
const PENDING = new Set(['queued', 'deferred', 'retry', 'shadow']);

function count(journeys: Record<string, JourneyTotals>, log: readonly StoredEvent[]): void {
  for (const e of log) {
    const p = e.properties ?? {};
    const totals = journeys[String(p.journeyId)];
    if (!totals) continue;
    if (e.event === 'journey_entered') {
      totals.entered++;
      if (p.holdout) totals.holdout++;
    }
    // A send counts by its outcome, as the reports count it (one the channel skipped is a skip in
    // the log); one still waiting at the end (quiet hours, a retry) or a holdout's shadow counts nowhere.
    if (e.event === 'message_sent') {
      if (p.status === 'failed' || p.status === 'unknown')
        bump(totals.failed, `${p.step}/${String(p.reason)}`);
      else if (!PENDING.has(String(p.status))) bump(totals.sends, `${p.step}/${p.channel}`);
    }
    if (e.event === 'message_skipped') bump(totals.skipped, `${p.step}/${p.reason}`);
    if (e.event === 'journey_exited') bump(totals.exits, String(p.reason));
  }
}
