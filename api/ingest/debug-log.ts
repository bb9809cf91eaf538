import { EventEmitter } from 'node:events';
import type { Fault } from '../../model/input-error.ts';
import { isJsonObject, type JsonObject } from '../../model/json.ts';

/** What the debugger shows of one message (or of a request refused before its messages were read). */
export interface DebugEntry {
  /** Increasing number in this process: a client resumes the live tail after the last one it saw. */
  seq: number;
  /** When it was received (ISO 8601). */
  receivedAt: string;
  status: 'accepted' | 'rejected';
  /** The route it came in on, e.g. `/v1/b`. */
  path: string;
  /** Its index in the batch (batch routes). */
  index?: number;
  type?: string;
  event?: string;
  userId?: string;
  anonymousId?: string;
  messageId?: string;
  /** Rejected: why, each fault with its JSON pointer into the request body. */
  errors?: Fault[];
  /** Rejected with a status of its own (401, 413, 429...): the whole request was refused. */
  httpStatus?: number;
  /**
   * The message as sent (without `writeKey`), for the newest 500 entries and when it is at most 4 KB;
   * otherwise left out.
   */
  message?: JsonObject;
}

const MAX_SHOWN_BYTES = 4 * 1024;
/**
 * How many of the newest entries keep the message itself: older ones keep only who and what, so the
 * log holds at most this many bodies (up to 32 KB each) whatever its capacity.
 */
const KEPT_BODIES = 500;

interface Summary {
  type?: string;
  event?: string;
  userId?: string;
  anonymousId?: string;
  messageId?: string;
}
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;

interface Recorded {
  seq: number;
  receivedAt: number;
  path: string;
  index: number | undefined;
  raw: unknown;
  errors: Fault[] | undefined;
  httpStatus: number | undefined;
  /** The type the route gave (single calls); otherwise the message's own. */
  type: string | undefined;
  /** Who and what, read from `raw` when the body is let go. */
  summary?: Summary;
}

function summarise(r: Recorded): Summary {
  if (r.summary) return r.summary;
  const m = isJsonObject(r.raw) ? r.raw : {};
  return {
    type: r.type ?? str(m.type),
    event: str(m.event),
    userId: str(m.userId),
    anonymousId: str(m.anonymousId),
    messageId: str(m.messageId),
  };
}

/**
 * The last `capacity` messages this API process received, accepted or rejected, with the reasons,
 * for the ingestion debugger. A ring in memory: recording keeps a reference to the parsed body and
 * copies nothing; an entry is summarised only when someone reads it.
 */
export class IngestLog {
  private readonly ring: (Recorded | undefined)[];
  private next = 0;
  private seq = 0;
  private readonly emitter = new EventEmitter();

  constructor(readonly capacity = 5000) {
    this.ring = new Array(capacity);
    this.emitter.setMaxListeners(0);
  }

  /**
   * Records one message of a request (`index` in a batch), rejected when it has `errors`; without
   * `keepBody` (an oversized message) only who and what are kept.
   */
  message(
    path: string,
    receivedAt: number,
    raw: unknown,
    index: number | undefined,
    errors: Fault[] | undefined,
    type?: string,
    keepBody = true,
  ): void {
    const recorded: Recorded = { seq: 0, receivedAt, path, index, raw, errors, httpStatus: undefined, type };
    if (!keepBody) {
      recorded.summary = summarise(recorded);
      recorded.raw = undefined;
    }
    this.add(recorded);
  }

  /** Records a request refused as a whole (no key, not JSON, too large, over the rate limit). */
  request(path: string, receivedAt: number, httpStatus: number, errors: Fault[], raw?: unknown): void {
    this.add({ seq: 0, receivedAt, path, index: undefined, raw, errors, httpStatus, type: undefined });
  }

  private add(recorded: Recorded): void {
    recorded.seq = ++this.seq;
    this.ring[this.next] = recorded;
    const old = this.ring[(this.next - KEPT_BODIES + this.capacity) % this.capacity];
    if (this.capacity > KEPT_BODIES && old && old.raw !== undefined) {
      old.summary = summarise(old);
      old.raw = undefined;
    }
    this.next = (this.next + 1) % this.capacity;
    if (this.emitter.listenerCount('entry') > 0) this.emitter.emit('entry', shown(recorded));
  }

  /** Newest first, at most `limit`, optionally only accepted or rejected ones. */
  list(options: { limit: number; status?: 'accepted' | 'rejected' }): DebugEntry[] {
    const out: DebugEntry[] = [];
    for (let i = 1; i <= this.capacity && out.length < options.limit; i++) {
      const recorded = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (!recorded) break;
      const status = recorded.errors ? 'rejected' : 'accepted';
      if (options.status && status !== options.status) continue;
      out.push(shown(recorded));
    }
    return out;
  }

  /**
   * Erasure: entries of these user or anonymous ids keep only when, where, and the message's type,
   * event name and id; answers how many were changed.
   */
  forget(ids: ReadonlySet<string>): number {
    let forgotten = 0;
    for (const recorded of this.ring) {
      if (!recorded) continue;
      const { userId, anonymousId, ...kept } = summarise(recorded);
      if (!(userId !== undefined && ids.has(userId)) && !(anonymousId !== undefined && ids.has(anonymousId)))
        continue;
      recorded.summary = kept;
      recorded.raw = undefined;
      forgotten++;
    }
    return forgotten;
  }

  /**
   * Calls `listener` with each entry recorded from now on, and `closed` when the process stops;
   * answers the unsubscribe function.
   */
  tail(listener: (entry: DebugEntry) => void, closed: () => void): () => void {
    this.emitter.on('entry', listener);
    this.emitter.on('close', closed);
    return () => {
      this.emitter.off('entry', listener);
      this.emitter.off('close', closed);
    };
  }

  /** Ends every live tail (the server is shutting down: open streams would hold it). */
  close(): void {
    this.emitter.emit('close');
  }
}

function shown(r: Recorded): DebugEntry {
  const entry: DebugEntry = {
    seq: r.seq,
    receivedAt: new Date(r.receivedAt).toISOString(),
    status: r.errors ? 'rejected' : 'accepted',
    path: r.path,
  };
  if (r.index !== undefined) entry.index = r.index;
  const fields = summarise(r);
  for (const [name, value] of Object.entries(fields))
    if (value !== undefined && value !== '') (entry as unknown as Record<string, unknown>)[name] = value;
  if (r.errors) entry.errors = r.errors;
  if (r.httpStatus !== undefined) entry.httpStatus = r.httpStatus;
  if (isJsonObject(r.raw)) {
    // The write key is no secret in a browser, but the debugger is read with other keys: leave it out.
    const { writeKey: _writeKey, ...message } = r.raw;
    if (Buffer.byteLength(JSON.stringify(message)) <= MAX_SHOWN_BYTES) entry.message = message;
  }
  return entry;
}
