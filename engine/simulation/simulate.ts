/**
 * The journey simulator: replays a stream of Segment messages through the real engine (memory store,
 * in-process queue) on a virtual clock, so waits of days take no time, then reports each user's
 * timeline and the totals. Used by `tideline simulate` and the API's dry run.
 */
import { parseBatch } from '../../api/ingest/messages.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import { journeyLogOf, timelineLine } from '../../journeys/timeline.ts';
import { compile } from '../../rules/compile.ts';
import { durationMs } from '../../rules/durations.ts';
import { profileContext } from '../../segments/context.ts';
import { holds } from '../../segments/membership.ts';
import { Workspace, type WorkspaceDefinitions } from '../../segments/workspace.ts';
import { InProcessScheduler } from '../adapters/schedulers/in-process.ts';
import { MemoryStore } from '../adapters/stores/memory.ts';
import { VirtualClock } from '../clock.ts';
import type { InboundMessage, StoredEvent } from '../events.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../ingest/ingest-queue.ts';
import { startIngestWorker } from '../ingest/worker.ts';
import {
  JOURNEY_SCHEDULE_JOB,
  JOURNEY_SCHEDULE_QUEUE,
  journeyScheduleId,
} from '../profiles/journey-schedule.ts';
import { silentLogger } from '../ports/logger.ts';
import type { Profile } from '../profiles/profile.ts';

const DAY = 86_400_000;
/** Messages within this much event time are applied together (their own timestamps still decide). */
const CHUNK_MS = 60_000;
const CHUNK_SIZE = 500;

export interface SimulationInput extends Omit<WorkspaceDefinitions, 'journeys' | 'valueModel'> {
  journeys: readonly JourneyDefinition[];
  /** Segment messages (track, identify, page, screen, alias), each with a timestamp. */
  messages: readonly unknown[];
  /** Replay window (ms); default: the first message to 7 days after the last one. */
  from?: number;
  to?: number;
  timezone?: string;
  /** Called every few thousand messages. */
  onProgress?: (replayed: number, total: number) => void;
}

export interface JourneyTotals {
  entered: number;
  holdout: number;
  sends: Record<string, number>;
  skipped: Record<string, number>;
  exits: Record<string, number>;
  /** Enrollments whose goal event came within the goal window (holdout ones counted apart). */
  goalReached: number;
  holdoutGoalReached: number;
}

export interface SimulationResult {
  from: string;
  to: string;
  messages: number;
  users: number;
  journeys: Record<string, JourneyTotals>;
  /** Each user's journey log lines, by user id (anonymous visitors as `anonymous:<id>`). */
  timelines: Record<string, string[]>;
}

/** Thrown for input that cannot be replayed (a message without a timestamp, a bad window). */
export class SimulationError extends Error {
  override readonly name = 'SimulationError';
}

export async function simulate(input: SimulationInput): Promise<SimulationResult> {
  const messages = parseMessages(input.messages);
  const first = messages[0]?.timestamp ?? Date.now();
  const last = messages.at(-1)?.timestamp ?? first;
  const from = input.from ?? first;
  const to = input.to ?? last + 7 * DAY;
  if (!(to >= from)) throw new SimulationError('the replay window ends before it starts');

  const clock = new VirtualClock(from);
  const scheduler = new InProcessScheduler({ clock });
  const store = new MemoryStore({
    eventRetentionMs: 3650 * DAY,
    dedupeHorizonMs: 3650 * DAY,
    compress: false,
  });
  await store.init();
  const { messages: _messages, from: _from, to: _to, onProgress: _progress, ...definitions } = input;
  const workspace = new Workspace({ ...definitions, timezone: input.timezone ?? 'UTC', dryRun: true });
  startIngestWorker(
    scheduler,
    store,
    { lateGraceMs: DAY, concurrency: 1, workspace: () => workspace, now: () => clock.now() },
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
    const inWindow = messages.filter((m) => m.timestamp >= from && m.timestamp <= to);
    for (let i = 0; i < inWindow.length;) {
      let j = i + 1;
      while (
        j < inWindow.length &&
        j - i < CHUNK_SIZE &&
        inWindow[j].timestamp - inWindow[i].timestamp < CHUNK_MS
      )
        j++;
      const chunk = inWindow.slice(i, j);
      // Timers due before the chunk fire first, at their own times.
      await clock.advanceTo(Math.max(clock.now(), chunk[chunk.length - 1].timestamp));
      await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: chunk });
      await clock.advance(0);
      if (input.onProgress && Math.floor(j / 5000) > Math.floor(i / 5000))
        input.onProgress(j, inWindow.length);
      i = j;
    }
    await clock.advanceTo(to);
    return {
      ...(await report(store, workspace, to)),
      from: iso(from),
      to: iso(to),
      messages: inWindow.length,
    };
  } finally {
    await scheduler.close();
    await store.close();
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Valid Segment messages with their own timestamps, oldest first; every fault with its pointer. */
function parseMessages(raw: readonly unknown[]): InboundMessage[] {
  raw.forEach((m, i) => {
    const timestamp = (m as { timestamp?: unknown } | null)?.timestamp;
    if (typeof timestamp !== 'string')
      throw new SimulationError(`/${i}/timestamp: every replayed message needs one`);
  });
  // Replayed history: far-future checks are relative to the newest message, and nothing is late.
  // A loop, not Math.max(...): spreading a few hundred thousand arguments overflows the stack.
  let newest = Number.NEGATIVE_INFINITY;
  for (const m of raw) {
    const t = Date.parse(String((m as { timestamp: string }).timestamp));
    if (t > newest) newest = t;
  }
  const parsed = parseBatch({ batch: raw }, Number.isFinite(newest) ? newest : Date.now());
  for (const m of parsed) m.receivedAt = m.timestamp;
  return parsed.sort((a, b) => a.timestamp - b.timestamp);
}

async function report(
  store: MemoryStore,
  workspace: Workspace,
  to: number,
): Promise<Omit<SimulationResult, 'from' | 'to' | 'messages'>> {
  const journeys: Record<string, JourneyTotals> = {};
  for (const j of workspace.journeys.live) {
    journeys[j.id] = {
      entered: 0,
      holdout: 0,
      sends: {},
      skipped: {},
      exits: {},
      goalReached: 0,
      holdoutGoalReached: 0,
    };
  }
  const timelines: Record<string, string[]> = {};
  let users = 0;
  let cursor: string | null = null;
  do {
    const page = await store.scanProfiles(cursor, 500);
    for (const profile of page.profiles) {
      users++;
      const history = (await store.recentEvents(profile.key, 1_000_000)).reverse();
      const log = journeyLogOf(history);
      if (log.length === 0) continue;
      timelines[profile.userId ?? `anonymous:${profile.key.slice(2)}`] = log.map(timelineLine);
      count(journeys, log, history, profile, workspace, to);
    }
    cursor = page.cursor;
  } while (cursor !== null);
  return { users, journeys, timelines };
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

function count(
  journeys: Record<string, JourneyTotals>,
  log: readonly StoredEvent[],
  history: readonly StoredEvent[],
  profile: Profile,
  workspace: Workspace,
  to: number,
): void {
  for (const e of log) {
    const p = e.properties ?? {};
    const totals = journeys[String(p.journeyId)];
    if (!totals) continue;
    if (e.event === 'journey_entered') {
      totals.entered++;
      if (p.holdout) totals.holdout++;
      const journey = workspace.journeys.version(String(p.journeyId), Number(p.version));
      const goal = journey?.definition.goal;
      if (goal && 'event' in goal) {
        const within = durationMs(goal.within ?? 'P7D');
        const where = goal.where ? compile(goal.where) : null;
        const reached = history.some(
          (c) =>
            c.type !== 'internal' &&
            c.event === goal.event &&
            c.timestamp >= e.timestamp &&
            c.timestamp <= Math.min(e.timestamp + within, to) &&
            (where === null ||
              holds(where, profileContext(profile, c.timestamp, { timezone: workspace.timezone, event: c }))),
        );
        if (reached && p.holdout) totals.holdoutGoalReached++;
        else if (reached) totals.goalReached++;
      }
    }
    if (e.event === 'message_sent') bump(totals.sends, `${p.step}/${p.channel}`);
    if (e.event === 'message_skipped') bump(totals.skipped, `${p.step}/${p.reason}`);
    if (e.event === 'journey_exited') bump(totals.exits, String(p.reason));
  }
}
