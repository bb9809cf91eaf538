/**
 * The journey simulator: replays a stream of Segment messages through the real engine (memory store,
 * in-process queue) on a virtual clock, so waits of days take no time, then reports each user's
 * timeline and the totals. Used by `tideline simulate` and the API's dry run.
 *
 * Users never affect each other's decisions, so a large stream is split by user between worker threads
 * (one per core): every id linked to another by a message (an identify's anonymous and user ids, an
 * alias) goes to the same worker, and every worker applies its share of each chunk after moving its
 * clock to the same point as a single replay would, so the result is the one a single replay gives.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InputError } from '../../model/input-error.ts';
import { parseBatch } from '../ingest/parse.ts';
import { idsOf, LinkedIds } from '../ingest/linked-ids.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import type { WorkspaceDefinitions } from '../../workspace/workspace.ts';
import { isJsonObject } from '../../model/json.ts';
import type { ToWorker, WorkerMessage } from './replay-worker.ts';
import {
  addTotals,
  emptyTotals,
  type JourneyTotals,
  type ReplayResult,
  replayShare,
  type Share,
  type SimulatedChannels,
} from './replay.ts';

export type { JourneyTotals } from './replay.ts';

const DAY = 86_400_000;
/** Messages within this much event time are applied together (their own timestamps still decide). */
const CHUNK_MS = 60_000;
const CHUNK_SIZE = 500;
/** Below this many messages one thread does it: starting workers costs more than it saves. */
const PARALLEL_FROM = 20_000;
/** Chunks a worker is handed at a time: it replays the first while the next are being copied to it. */
const PART_CHUNKS = 20;

export interface SimulationInput extends Omit<WorkspaceDefinitions, 'journeys' | 'valueModel'> {
  journeys: readonly JourneyDefinition[];
  /** Segment messages (track, identify, page, screen, alias), each with a timestamp. */
  messages: readonly unknown[];
  /** Replay window (ms); default: the first message to 7 days after the last one. */
  from?: number;
  to?: number;
  timezone?: string;
  /** Worker threads; default: one per core (at most 4) for streams of 20,000 messages or more. */
  workers?: number;
  /** Called every few thousand messages. */
  onProgress?: (replayed: number, total: number) => void;
  /** The send policy and the apps of the workspace's channels file (caps, promotional SMS hours). */
  channels?: SimulatedChannels;
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
  const workers = Math.max(
    1,
    Math.floor(
      input.workers ?? (input.messages.length >= PARALLEL_FROM ? Math.min(4, availableParallelism()) : 1),
    ),
  );
  const pool = workers > 1 ? new WorkerPool(workers) : null;
  try {
    const {
      messages: _m,
      from: _f,
      to: _t,
      onProgress,
      workers: _w,
      timezone,
      channels,
      ...definitions
    } = input;
    // The stream is only read here (timestamps and ids); each replay parses its own share.
    const stream = readStream(input.messages);
    const first = stream[0]?.at ?? Date.now();
    const last = stream.at(-1)?.at ?? first;
    const from = input.from ?? first;
    const to = input.to ?? last + 7 * DAY;
    if (!(to >= from)) throw new SimulationError('the replay window ends before it starts');
    const within = (m: Unparsed) => m.at >= from && m.at <= to;
    const chunks = plan(stream.filter(within));
    const unused = stream.filter((m) => !within(m)).map((m) => m.raw);
    const total = stream.length - unused.length;
    let reported = 0;
    const progress = (done: number) => {
      if (!onProgress || (Math.floor(done / 5000) === Math.floor(reported / 5000) && done < total)) return;
      reported = done;
      onProgress(done, total);
    };
    const shards = pool ? split(chunks, workers) : [chunks];
    const shares: Share[] = (shards.length > 0 ? shards : [[]]).map((shard, i) => ({
      definitions,
      timezone: timezone ?? 'UTC',
      ...(channels ? { channels } : {}),
      from,
      to,
      newest: last,
      chunks: shard.map((c) => ({ until: c.until, messages: c.messages.map((m) => m.raw) })),
      unused: i === 0 ? unused : [],
    }));
    let parts: ReplayResult[];
    try {
      parts =
        pool && shares.length > 1
          ? await pool.run(shares, progress)
          : [await replayShare(shares[0], progress)];
    } catch (error) {
      // A replay refused a message of its share: the whole stream's parse names it.
      if (error instanceof InputError || error instanceof RefusedStream) nameRefused(input.messages);
      throw error;
    }
    return { ...merge(parts), from: iso(from), to: iso(to), messages: total };
  } finally {
    await pool?.stop();
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Throws the ingestion API's fault for the first refused message, pointing into the whole stream. */
function nameRefused(raw: readonly unknown[]): void {
  // A loop, not Math.max(...): spreading a few hundred thousand arguments overflows the stack.
  let newest = Number.NEGATIVE_INFINITY;
  for (const m of raw) {
    const t = Date.parse(String((m as { timestamp: string }).timestamp));
    if (t > newest) newest = t;
  }
  parseBatch({ batch: raw }, Number.isFinite(newest) ? newest : Date.now());
}

interface Chunk {
  until: number;
  messages: Unparsed[];
}

/** Up to 500 messages within a minute of event time per chunk, applied once the clock is at its last. */
function plan(messages: readonly Unparsed[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (let i = 0; i < messages.length;) {
    let j = i + 1;
    while (j < messages.length && j - i < CHUNK_SIZE && messages[j].at - messages[i].at < CHUNK_MS) j++;
    chunks.push({ until: messages[j - 1].at, messages: messages.slice(i, j) });
    i = j;
  }
  return chunks;
}

/** A message as the main thread plans it, unparsed: when it happened and whose it is. */
interface Unparsed {
  raw: unknown;
  at: number;
  ids: string[];
}

/**
 * The stream read just enough to plan it, oldest first (stable: messages of one instant keep their
 * order). A message this cannot read (no valid time, no id) is refused with the parser's fault.
 */
function readStream(raw: readonly unknown[]): Unparsed[] {
  const stream: Unparsed[] = [];
  for (const [i, m] of raw.entries()) {
    const message = (isJsonObject(m) ? m : {}) as Record<string, unknown>;
    if (typeof message.timestamp !== 'string')
      throw new SimulationError(`/${i}/timestamp: every replayed message needs one`);
    stream.push({
      raw: m,
      at: Date.parse(message.timestamp),
      ids: idsOf(message.userId, message.anonymousId, message.previousId),
    });
  }
  const unreadable = stream.findIndex((m) => Number.isNaN(m.at) || m.ids.length === 0);
  if (unreadable >= 0) {
    nameRefused(raw);
    throw new SimulationError(`/${unreadable}: the message cannot be replayed`);
  }
  return stream.sort((a, b) => a.at - b.at);
}

/** The chunks, each split between `n` shards of users: ids linked by any message share a shard. */
function split(chunks: readonly Chunk[], n: number): Chunk[][] {
  const linked = new LinkedIds();
  const find = (id: string) => linked.root(id);
  const firstIds: string[][] = [];
  for (const chunk of chunks) {
    const firsts: string[] = [];
    for (const { ids } of chunk.messages) {
      firsts.push(ids[0]);
      linked.link(ids);
    }
    firstIds.push(firsts);
  }
  // Whole groups to the shard with the fewest messages so far, biggest groups first.
  const sizes = new Map<string, number>();
  for (const firsts of firstIds)
    for (const id of firsts) {
      const root = find(id);
      sizes.set(root, (sizes.get(root) ?? 0) + 1);
    }
  const load = new Array<number>(n).fill(0);
  const shardOf = new Map<string, number>();
  for (const [root, size] of [...sizes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    const shard = load.indexOf(Math.min(...load));
    shardOf.set(root, shard);
    load[shard] += size;
  }
  const shards: Chunk[][] = Array.from({ length: n }, () => []);
  chunks.forEach((chunk, c) => {
    const parts: Unparsed[][] = Array.from({ length: n }, () => []);
    chunk.messages.forEach((m, i) => parts[shardOf.get(find(firstIds[c][i]))!].push(m));
    parts.forEach((messages, i) => {
      if (messages.length > 0) shards[i].push({ until: chunk.until, messages });
    });
  });
  return shards.filter((s) => s.length > 0);
}

/**
 * A worker thread starts without the TypeScript loader the main thread may have registered: from the
 * compiled build it loads the replay worker as it is; from the sources it registers tsx first.
 */
const COMPILED = import.meta.url.endsWith('.js');
const WORKER_BOOT = COMPILED
  ? `import(${JSON.stringify(new URL('./replay-worker.js', import.meta.url).href)})`
  : `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then(({ register }) => { register(); return import(${JSON.stringify(new URL('./replay-worker.ts', import.meta.url).href)}); })`;

/** A worker's parse refused a message of its share. */
class RefusedStream extends Error {}

/** Worker threads started before the stream is read, so that loading the engine overlaps with it. */
class WorkerPool {
  private readonly workers: Worker[];
  private readonly failed: Promise<never>;
  /** Workers stopped on purpose: their exit is no failure. */
  private readonly stopped = new Set<Worker>();

  constructor(size: number) {
    // A larger young generation than the default: a replay makes many short-lived objects (about
    // 2% faster at 64 MB; more did not help).
    this.workers = Array.from(
      { length: size },
      () => new Worker(WORKER_BOOT, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 64 } }),
    );
    this.failed = new Promise<never>((_, reject) => {
      for (const worker of this.workers) {
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (code !== 0 && !this.stopped.has(worker))
            reject(new Error(`a simulator worker exited with code ${code}`));
        });
      }
    });
    this.failed.catch(() => {}); // handled where the pool is used
  }

  /** One replay per share (at most one per worker); the workers left over are stopped. */
  async run(shares: readonly Share[], onProgress: (replayed: number) => void): Promise<ReplayResult[]> {
    const replayed = new Array<number>(shares.length).fill(0);
    for (const idle of this.workers.slice(shares.length)) void this.terminate(idle);
    const results = shares.map(
      (_share, i) =>
        new Promise<ReplayResult>((resolve, reject) => {
          this.workers[i].on('message', (message: WorkerMessage) => {
            if ('refused' in message) return reject(new RefusedStream());
            replayed[i] = message.replayed;
            onProgress(replayed.reduce((a, b) => a + b, 0));
            if (message.result) resolve(message.result);
          });
        }),
    );
    // Copying a share to its worker takes the main thread a while: each worker gets its header, then
    // its chunks a part at a time, the workers in turn, so that every one starts replaying early.
    const post = (i: number, message: ToWorker) => this.workers[i].postMessage(message);
    shares.forEach(({ chunks: _c, ...header }, i) => post(i, { header }));
    const longest = Math.max(...shares.map((s) => s.chunks.length));
    for (let from = 0; from < longest; from += PART_CHUNKS)
      shares.forEach((share, i) => {
        const part = share.chunks.slice(from, from + PART_CHUNKS);
        if (part.length > 0) post(i, { part });
      });
    shares.forEach((_share, i) => post(i, { end: true }));
    return Promise.race([Promise.all(results), this.failed]);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.terminate(w)));
  }

  private async terminate(worker: Worker): Promise<void> {
    this.stopped.add(worker);
    await worker.terminate();
  }
}

/** The shards' results as one: totals summed, timelines in profile key order (a single replay's). */
function merge(parts: readonly ReplayResult[]): Omit<SimulationResult, 'from' | 'to' | 'messages'> {
  const journeys: Record<string, JourneyTotals> = {};
  for (const part of parts)
    for (const [id, totals] of Object.entries(part.journeys))
      addTotals((journeys[id] ??= emptyTotals()), totals);
  // Counts by key in key order, whichever shard saw a key first.
  for (const totals of Object.values(journeys))
    for (const field of ['sends', 'skipped', 'exits'] as const)
      totals[field] = Object.fromEntries(Object.entries(totals[field]).sort(([a], [b]) => (a < b ? -1 : 1)));
  const lines = parts.flatMap((p) => p.timelines);
  if (parts.length > 1) lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    users: parts.reduce((n, p) => n + p.users, 0),
    journeys,
    timelines: Object.fromEntries(lines.map(([, name, log]) => [name, log])),
  };
}
