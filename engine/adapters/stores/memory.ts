import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredEvent } from '../../../model/events.ts';
import { copyJson } from '../../../model/json.ts';
import {
  type CommitResult,
  type DueProfile,
  type ProfileCommit,
  type ProfilePage,
  type Store,
  type StoreOptions,
  checkDueArguments,
  checkScanLimit,
  passes,
  type ScanFilter,
  dueAt,
} from '../../../ports/store.ts';
import type { Profile } from '../../../model/profile.ts';
import { compressProfile, decompressProfile } from './profile-codec.ts';

export interface MemoryStoreOptions extends StoreOptions {
  /** Where `store.json` is loaded from and snapshotted to; in memory only when unset. */
  dataDir?: string;
  snapshotIntervalMs?: number;
  /**
   * Called synchronously at the instant a snapshot's content is captured; what it returns runs once
   * that snapshot is safely on disk (the embedded mode drops journal segments the snapshot covers).
   */
  onCapture?: () => (() => Promise<void>) | undefined;
  clock?: { now(): number };
  /**
   * Keep profiles deflated and events as JSON (default). The simulator turns it off: it trades memory
   * for the time deflating, inflating and parsing take on every decision (profiles and events are
   * then kept as objects, with an index of each history's message ids: copied on the way out, and
   * taken as they are on the way in: a committer hands them over and never touches them again).
   */
  compress?: boolean;
  /**
   * Without `compress`: hand out the stored profile objects themselves, no copies. Only for one writer
   * whose decisions never overlap and that commits every change it makes (the simulator, which runs
   * one job at a time): a decision that changed a profile and did not commit would leave the change.
   */
  shareProfiles?: boolean;
}

/*
 * Profiles are kept compressed (~250 bytes, against ~1 KB as JSON and ~1.4 KB as objects), events as JSON
 * (both as private objects without `compress`). Every read hands out a fresh copy, and stored values never
 * change (a commit replaces them), so a snapshot is a consistent point in time by just holding on to them
 * while it writes.
 */
type StoredProfile =
  /** compressProfile() bytes as a one-byte string: compact on the V8 heap. */
  | { version: number; data: string; profile?: undefined }
  /** Without `compress`: a private copy (see copyJson). */
  | { version: number; profile: Profile };
/**
 * scanProfiles' order: every key, sorted. Built by the first scan, then kept up to date lazily, so that
 * commits pay one array push at most: keys created since are collected in `added` and put in place by the
 * next page; deleted keys stay (a page skips them) until they are a quarter of the index. Dropped, to be
 * rebuilt by the next scan, if `added` outgrows the index (no scan for a while): it never holds more than
 * about two pointers a profile.
 */
interface ScanIndex {
  sorted: string[];
  added: string[];
  removed: number;
}
/** The event as JSON, or without `compress` a private copy of it (see copyJson). */
type HistoryEntry = { id: string; at: number } & (
  { json: string; event?: undefined } | { event: StoredEvent; json?: undefined }
);

type SnapshotRecord =
  | ['profile', Profile]
  | ['events', string, StoredEvent[]]
  | ['alias', string, string]
  | ['applied', string, number]
  | ['counters', string, [string, number][]];

// store.json is one JSON document with one record per line, so it is written and read as a stream.
const SNAPSHOT_HEADER = '{"tideline":"store","format":1,"records":[';
const SNAPSHOT_END = 'null]}';
const PRUNE_INTERVAL_MS = 60_000;

export class MemoryStore implements Store {
  readonly kind = 'memory';
  private readonly profiles = new Map<string, StoredProfile>();
  /** Oldest first. */
  private readonly histories = new Map<string, readonly HistoryEntry[]>();
  /**
   * Without `compress`: the message ids of a key's history, so that a commit need not gather them from
   * the whole history again. Kept by commit; dropped when a history changes otherwise (rebuilt on use).
   */
  private readonly historyIds = new Map<string, Set<string>>();
  /** messageId -> expiresAt */
  private readonly applied = new Map<string, number>();
  /** Report counters by scope (conversions/counters.ts). */
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly aliases = new Map<string, string>();
  private scanIndex: ScanIndex | null = null;
  /**
   * The due index: profile key -> its committed `checkAt`, for the profiles that have one. Not in the
   * snapshot: rebuilt from the profiles as they load. A Map, not a sorted structure: a commit pays one
   * set or delete, and dueProfiles a scan of the Map (see there).
   */
  private readonly due = new Map<string, number>();
  private readonly clock: { now(): number };
  private timer: NodeJS.Timeout | undefined;
  private prunedAt = 0;
  /** Something changed since the last snapshot was taken. */
  private changed = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: MemoryStoreOptions) {
    this.clock = options.clock ?? Date;
  }

  async init(): Promise<void> {
    const dir = this.options.dataDir;
    if (!dir) return;
    await this.load(join(dir, 'store.json'));
    this.timer = setInterval(() => {
      (this.changed ? this.snapshot() : this.covered()).catch((error: unknown) =>
        process.emitWarning(`store snapshot failed: ${error}`),
      );
    }, this.options.snapshotIntervalMs ?? 30_000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.changed) await this.snapshot();
    else await this.writing;
  }

  async getProfiles(keys: readonly string[]): Promise<Map<string, Profile>> {
    const found = new Map<string, Profile>();
    for (const key of keys) {
      const stored = this.profiles.get(key);
      if (stored)
        found.set(key, this.options.shareProfiles && stored.profile ? stored.profile : unpack(stored));
    }
    return found;
  }

  async appliedMessageIds(messageIds: readonly string[]): Promise<Set<string>> {
    const now = this.clock.now();
    return new Set(messageIds.filter((id) => (this.applied.get(id) ?? 0) > now));
  }

  async commit(commits: readonly ProfileCommit[]): Promise<CommitResult> {
    const now = this.clock.now();
    this.prune(now);
    const cutoff = now - this.options.eventRetentionMs;
    const wrong = commits.find((c) => c.profile.version !== c.expectedVersion + 1);
    if (wrong) throw new Error(`commit ${wrong.key}: profile.version must be expectedVersion + 1`);
    const conflicts: string[] = [];
    const compress = this.options.compress ?? true;
    for (const c of commits) {
      const stale =
        this.versionOf(c.key) !== c.expectedVersion ||
        (c.absorb !== undefined && this.versionOf(c.absorb.key) !== c.absorb.expectedVersion);
      if (stale && this.options.shareProfiles)
        // Two decisions overlapped on one shared object: the retry would start from the other's changes.
        throw new Error(`commit ${c.key}: overlapping decisions on a store that shares its profiles`);
      if (stale) {
        conflicts.push(c.key);
        continue;
      }
      this.changed = true;
      this.profiles.set(c.key, pack(c.profile, compress));
      if (c.expectedVersion === 0) this.keyAdded(c.key);
      const added = c.events.map((e) => historyEntry(e, compress));
      if (c.absorb) {
        if (this.profiles.delete(c.absorb.key)) this.keyRemoved();
        this.due.delete(c.absorb.key);
        added.push(...(this.histories.get(c.absorb.key) ?? []));
        this.histories.delete(c.absorb.key);
        this.historyIds.delete(c.absorb.key);
      }
      this.setDue(c.key, dueAt(c.profile));
      const history = this.histories.get(c.key) ?? [];
      if (compress) this.setHistory(c.key, withEvents(history, added, cutoff));
      else {
        // Without a snapshot to keep consistent, the simulator's histories grow in place.
        const inPlace = this.options.dataDir === undefined;
        this.setHistory(c.key, withEvents(history, added, cutoff, this.idsOf(c.key, history), inPlace), true);
      }
      for (const id of c.messageIds) this.applied.set(id, now + this.options.dedupeHorizonMs);
      for (const [scope, fields] of Object.entries(c.counts ?? {})) {
        let counters = this.counters.get(scope);
        if (!counters) this.counters.set(scope, (counters = new Map()));
        for (const [field, by] of Object.entries(fields)) {
          const total = (counters.get(field) ?? 0) + by;
          if (total === 0) counters.delete(field);
          else counters.set(field, total);
        }
      }
    }
    return { conflicts };
  }

  async readCounters(scope: string): Promise<ReadonlyMap<string, number>> {
    // Live, not copied: a journey's counters can be hundreds of thousands of fields.
    return this.counters.get(scope) ?? new Map();
  }

  async getAliases(anonymousIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const id of anonymousIds) {
      const userId = this.aliases.get(id);
      if (userId !== undefined) found.set(id, userId);
    }
    return found;
  }

  async linkAlias(anonymousId: string, userId: string): Promise<string> {
    const linked = this.aliases.get(anonymousId);
    if (linked !== undefined) return linked;
    this.changed = true;
    this.aliases.set(anonymousId, userId);
    return userId;
  }

  async recentEvents(key: string, limit: number, since = 0): Promise<StoredEvent[]> {
    const cutoff = Math.max(since, this.clock.now() - this.options.eventRetentionMs);
    const events: StoredEvent[] = [];
    const history = this.histories.get(key) ?? [];
    for (let i = history.length - 1; i >= 0 && events.length < limit && history[i].at >= cutoff; i--) {
      const entry = history[i];
      events.push(entry.event ? copyJson(entry.event) : (JSON.parse(entry.json) as StoredEvent));
    }
    return events;
  }

  /**
   * The key's whole stored history, oldest first, without copies: for read-only passes over a
   * finished simulation (its report). Uncompressed stores only; never change what it returns.
   */
  storedHistory(key: string): readonly StoredEvent[] {
    if (this.options.compress ?? true) throw new Error('storedHistory: only without compress');
    return (this.histories.get(key) ?? []).map((entry) => entry.event!);
  }

  async eraseProfile(key: string): Promise<boolean> {
    const stored = this.profiles.get(key);
    const erased = this.histories.delete(key) || stored !== undefined;
    this.historyIds.delete(key);
    this.changed ||= erased;
    if (!stored) return erased;
    this.profiles.delete(key);
    this.due.delete(key);
    this.keyRemoved();
    // Only the links to this user: an anonymous id may since have been linked to someone else.
    const { userId, anonymousIds } = unpack(stored);
    for (const id of anonymousIds) {
      if (userId !== null && this.aliases.get(id) === userId) this.aliases.delete(id);
    }
    return erased;
  }

  async countProfiles(): Promise<number> {
    return this.profiles.size;
  }

  /** By key in UTF-16 code unit order (JavaScript's `<`); the cursor is the last key the page looked at. */
  /** With a filter, `limit` bounds the profiles looked at (uncompressed ones are not copied unless they pass). */
  async scanProfiles(cursor: string | null, limit: number, filter?: ScanFilter): Promise<ProfilePage> {
    checkScanLimit(limit);
    const keys = this.sortedKeys();
    let i = cursor === null ? 0 : firstAfter(keys, cursor);
    const profiles: Profile[] = [];
    for (let looked = 0; i < keys.length && looked < limit; i++) {
      const stored = this.profiles.get(keys[i]);
      if (!stored) continue;
      looked++;
      if (stored.profile && !passes(stored.profile, filter)) continue;
      const profile = unpack(stored);
      if (passes(profile, filter)) profiles.push(profile);
    }
    // Past deleted keys, so that the last page (not an empty one after it) says done.
    while (i < keys.length && !this.profiles.has(keys[i])) i++;
    return { profiles, cursor: i < keys.length ? keys[i - 1] : null };
  }

  /**
   * One scan of the due index (a Map of the profiles that have a timer), keeping the `limit` earliest
   * entries in a bounded heap: O(T log limit) for T timers, whatever the page, so paging through P pages
   * costs P scans. Timers are at most one per profile and each scan is a few milliseconds per 100,000
   * of them; a sorted index would cost every commit that moves a timer instead.
   */
  async dueProfiles(before: number, limit: number, after?: DueProfile): Promise<DueProfile[]> {
    checkDueArguments(before, limit, after);
    const page = new DueHeap(limit);
    for (const [key, at] of this.due) {
      if (at > before) continue;
      if (after && (at < after.at || (at === after.at && key <= after.key))) continue;
      page.offer({ key, at });
    }
    return page.sorted();
  }

  /**
   * Writes `<dataDir>/store.json` atomically (a temporary file renamed over it); no-op without a dataDir.
   * Also done every `snapshotIntervalMs` and on close, when something changed.
   */
  snapshot(): Promise<void> {
    const dir = this.options.dataDir;
    if (!dir) return Promise.resolve();
    const written = this.writing.then(() => this.writeSnapshot(dir));
    this.writing = written.catch(() => {
      this.changed = true;
    });
    return written;
  }

  /**
   * Nothing changed since the last snapshot, so it holds what was applied since (duplicates, messages
   * that changed nothing): a capture without writing, whose work (dropping the journal it covers) runs
   * once that snapshot is on disk.
   */
  private covered(): Promise<void> {
    const afterWrite = this.options.onCapture?.();
    if (!afterWrite) return Promise.resolve();
    const done = this.writing.then(afterWrite);
    this.writing = done.catch(() => {});
    return done;
  }

  private sortedKeys(): string[] {
    const index = this.scanIndex;
    if (!index) {
      const sorted = [...this.profiles.keys()].sort();
      this.scanIndex = { sorted, added: [], removed: 0 };
      return sorted;
    }
    const exists = (key: string) => this.profiles.has(key);
    const added = index.added.sort();
    index.added = [];
    if (added.length > 256) {
      index.sorted = mergeKeys(index.sorted, added, exists);
      index.removed = 0;
    } else {
      // A few: in place, each a binary search and a move of the pointers after it.
      for (const key of added) {
        const at = firstAfter(index.sorted, key, true);
        if (index.sorted[at] !== key && exists(key)) index.sorted.splice(at, 0, key);
      }
    }
    if (index.removed > Math.max(1024, index.sorted.length / 4)) {
      index.sorted = index.sorted.filter(exists);
      index.removed = 0;
    }
    return index.sorted;
  }

  /** A key that did not exist now does. */
  private keyAdded(key: string): void {
    const index = this.scanIndex;
    if (!index) return;
    index.added.push(key);
    if (index.added.length > Math.max(1024, index.sorted.length)) this.scanIndex = null;
  }

  /** A key that existed no longer does. */
  private keyRemoved(): void {
    if (this.scanIndex) this.scanIndex.removed++;
  }

  private setDue(key: string, at: number | null): void {
    if (at === null) this.due.delete(key);
    else this.due.set(key, at);
  }

  private versionOf(key: string): number {
    return this.profiles.get(key)?.version ?? 0;
  }

  /** `keepIds`: the key's id index was kept up to date with this change (see withEvents). */
  private setHistory(key: string, history: readonly HistoryEntry[], keepIds = false): void {
    if (history.length > 0) this.histories.set(key, history);
    else this.histories.delete(key);
    if (!keepIds || history.length === 0) this.historyIds.delete(key);
  }

  /** The message ids of the key's stored `history` (an index kept without `compress`). */
  private idsOf(key: string, history: readonly HistoryEntry[]): Set<string> {
    let ids = this.historyIds.get(key);
    if (!ids) {
      ids = new Set(history.map((e) => e.id));
      this.historyIds.set(key, ids);
    }
    return ids;
  }

  /** Forgets expired message ids and events, at most once a minute of clock time. */
  private prune(now: number): void {
    if (now - this.prunedAt < PRUNE_INTERVAL_MS) return;
    this.prunedAt = now;
    for (const [id, expiresAt] of this.applied) if (expiresAt <= now) this.applied.delete(id);
    const cutoff = now - this.options.eventRetentionMs;
    for (const [key, history] of this.histories) {
      if (history[0].at < cutoff) this.setHistory(key, withEvents(history, [], cutoff));
    }
  }

  private async writeSnapshot(dir: string): Promise<void> {
    this.prune(this.clock.now());
    // Taken synchronously: the stored values are immutable, so this is one consistent point in time.
    this.changed = false;
    const afterWrite = this.options.onCapture?.();
    const profiles = [...this.profiles.values()];
    const histories = [...this.histories];
    const aliases = [...this.aliases];
    const applied = [...this.applied];
    const counters = [...this.counters].map(([scope, fields]) => [scope, [...fields]] as const);

    await mkdir(dir, { recursive: true });
    const file = join(dir, 'store.json');
    const temporary = `${file}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w');
    try {
      let chunk = `${SNAPSHOT_HEADER}\n`;
      const write = async (record: string) => {
        chunk += `${record},\n`;
        if (chunk.length < 1 << 20) return;
        await handle.write(chunk);
        chunk = '';
      };
      for (const p of profiles) await write(`["profile",${JSON.stringify(unpack(p))}]`);
      for (const [key, history] of histories) {
        const events = history.map((e) => e.json ?? JSON.stringify(e.event));
        await write(`["events",${JSON.stringify(key)},[${events.join(',')}]]`);
      }
      for (const alias of aliases) await write(JSON.stringify(['alias', ...alias]));
      for (const marker of applied) await write(JSON.stringify(['applied', ...marker]));
      for (const [scope, fields] of counters) await write(JSON.stringify(['counters', scope, fields]));
      await handle.write(`${chunk}${SNAPSHOT_END}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
    await afterWrite?.();
  }

  private async load(file: string): Promise<void> {
    const handle = await open(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (!handle) return;
    let lineNo = 0;
    let complete = false;
    try {
      for await (const line of handle.readLines()) {
        if (lineNo++ === 0) {
          if (line !== SNAPSHOT_HEADER) throw new Error(`${file} is not a Tideline store snapshot`);
        } else if (line === SNAPSHOT_END) {
          complete = true;
          break;
        } else {
          this.restore(JSON.parse(line.slice(0, -1)));
        }
      }
    } finally {
      await handle.close();
    }
    if (!complete) throw new Error(`${file} is truncated`);
  }

  private restore(record: SnapshotRecord): void {
    switch (record[0]) {
      case 'profile':
        this.profiles.set(record[1].key, pack(record[1]));
        this.setDue(record[1].key, dueAt(record[1]));
        break;
      case 'events':
        this.histories.set(
          record[1],
          record[2].map((e) => historyEntry(e, this.options.compress ?? true)),
        );
        this.historyIds.delete(record[1]);
        break;
      case 'alias':
        this.aliases.set(record[1], record[2]);
        break;
      case 'applied':
        this.applied.set(record[1], record[2]);
        break;
      case 'counters':
        this.counters.set(record[1], new Map(record[2]));
        break;
    }
  }
}

function pack(profile: Profile, compress = true): StoredProfile {
  if (!compress) return { version: profile.version, profile };
  return { version: profile.version, data: compressProfile(profile).toString('latin1') };
}

function unpack(stored: StoredProfile): Profile {
  if (stored.profile) return copyJson(stored.profile);
  return decompressProfile(Buffer.from(stored.data, 'latin1'));
}

function historyEntry(event: StoredEvent, compress: boolean): HistoryEntry {
  if (!compress) return { id: event.messageId, at: event.timestamp, event };
  return { id: event.messageId, at: event.timestamp, json: JSON.stringify(event) };
}

/** The index of the first key in `sorted` greater than `after` (or equal to it, with `orEqual`). */
function firstAfter(sorted: readonly string[], after: string, orEqual = false): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < after || (!orEqual && sorted[mid] === after)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Two sorted key lists as one, without duplicates and keeping only the keys that still exist. */
function mergeKeys(a: readonly string[], b: readonly string[], exists: (key: string) => boolean): string[] {
  const merged: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const key = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (key !== merged[merged.length - 1] && exists(key)) merged.push(key);
  }
  return merged;
}

/** (at, key) order: earliest first, ties by key in code unit order. */
function dueBefore(a: DueProfile, b: DueProfile): boolean {
  return a.at < b.at || (a.at === b.at && a.key < b.key);
}

/** The `limit` earliest of the entries offered: a max-heap whose root is the latest kept. */
class DueHeap {
  private readonly heap: DueProfile[] = [];
  constructor(private readonly limit: number) {}

  offer(entry: DueProfile): void {
    const heap = this.heap;
    if (heap.length < this.limit) {
      heap.push(entry);
      for (let i = heap.length - 1; i > 0;) {
        const parent = (i - 1) >> 1;
        if (!dueBefore(heap[parent], heap[i])) break;
        [heap[parent], heap[i]] = [heap[i], heap[parent]];
        i = parent;
      }
      return;
    }
    if (!dueBefore(entry, heap[0])) return;
    heap[0] = entry;
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let latest = i;
      if (left < heap.length && dueBefore(heap[latest], heap[left])) latest = left;
      if (right < heap.length && dueBefore(heap[latest], heap[right])) latest = right;
      if (latest === i) break;
      [heap[latest], heap[i]] = [heap[i], heap[latest]];
      i = latest;
    }
  }

  sorted(): DueProfile[] {
    return this.heap.sort((a, b) => (dueBefore(a, b) ? -1 : dueBefore(b, a) ? 1 : 0));
  }
}

/** Up to this many events added to a history are looked for in it one by one (more: a Set of its ids). */
const FEW_ADDED = 4;

/**
 * The history with `added` merged in (first one per messageId wins), oldest first, within retention.
 * `index`, the ids of `history` (kept by the caller), is updated to those of the result.
 */
function withEvents(
  history: readonly HistoryEntry[],
  added: readonly HistoryEntry[],
  cutoff: number,
  index?: Set<string>,
  inPlace = false,
): HistoryEntry[] {
  // A commit usually adds an event or two: looking for their ids in the history costs less than a Set of it.
  const few = index === undefined && added.length <= FEW_ADDED;
  const ids = index ?? (few ? null : new Set(history.map((e) => e.id)));
  const taken: HistoryEntry[] = [];
  const seen = (id: string) =>
    ids ? ids.has(id) : history.some((e) => e.id === id) || taken.some((e) => e.id === id);
  // Stored histories are in order: only the oldest can have expired.
  const expired = history.length > 0 && history[0].at < cutoff;
  const next = expired
    ? history.filter((e) => e.at >= cutoff)
    : inPlace
      ? (history as HistoryEntry[])
      : history.slice();
  let ordered = true;
  for (const e of added) {
    if (e.at < cutoff || seen(e.id)) continue;
    if (ids) ids.add(e.id);
    else taken.push(e);
    if (next.length > 0 && e.at < next[next.length - 1].at) ordered = false;
    next.push(e);
  }
  if (index && expired) for (const e of history) if (e.at < cutoff) index.delete(e.id);
  // Sorting is stable: a history already in order stays as it is.
  return ordered ? next : next.sort((a, b) => a.at - b.at);
}
