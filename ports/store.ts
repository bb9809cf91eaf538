import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import type { Counts } from '../model/conversions.ts';

/**
 * One atomic change to one profile: either all of it is written or none (a version conflict).
 * The applied message ids are recorded in the same step, which is what makes a replayed job
 * (a crashed worker, a retried batch) change nothing the second time.
 */
/** How much of a user's stored history a rebuild reads (newest first). */
export const HISTORY_LIMIT = 10_000;

export interface ProfileCommit {
  key: string;
  /** The version read before deciding; 0 when the profile did not exist. */
  expectedVersion: number;
  /** The new state; its `version` must be `expectedVersion + 1`. */
  profile: Profile;
  /** Appended to the profile's event history (idempotent per messageId). */
  events: StoredEvent[];
  /** Marked as applied for the dedupe horizon. */
  messageIds: string[];
  /**
   * Another profile merged into this one (an anonymous visitor who identified): deleted in the same
   * step, its history moved here. Conflicts if its version is no longer `expectedVersion`.
   */
  absorb?: { key: string; expectedVersion: number };
  /**
   * Report counters moved by this decision (conversions): added in the same atomic step, so a
   * decision that is committed once is counted once.
   */
  counts?: Counts;
}

/** Adds `by` to a field of a scope in `counts`, creating what is missing; drops fields that reach 0. */
export function addCount(counts: Counts, scope: string, field: string, by: number): void {
  if (by === 0) return;
  const fields = (counts[scope] ??= {});
  const next = (fields[field] ?? 0) + by;
  if (next === 0) delete fields[field];
  else fields[field] = next;
}

export interface CommitResult {
  /** Keys whose commit was refused because a version no longer matched; nothing of them was written. */
  conflicts: string[];
}

export interface StoreOptions {
  /** How long raw events are kept (ms). */
  eventRetentionMs: number;
  /** How long an applied messageId is remembered (ms). */
  dedupeHorizonMs: number;
}

/** The persistence port. Adapters: memory (snapshotted), Redis (ioredis), MongoDB (official driver). */
export interface Store {
  readonly kind: 'memory' | 'redis' | 'mongodb';
  /** Connects, creates indexes, loads scripts or snapshots. */
  init(): Promise<void>;
  /** Flushes what must be flushed and releases connections. */
  close(): Promise<void>;

  /** Fresh objects, the caller's own: deciders change them in place and commit them. */
  getProfiles(keys: readonly string[]): Promise<Map<string, Profile>>;
  /**
   * Which of these message ids were already applied within the dedupe horizon. `profiles`, for a message
   * id, names the profiles it may have been applied to (the one it goes to now and the anonymous one of
   * its anonymousId): an adapter that keeps the applied ids with the profiles looks there, and
   * everywhere for an id it does not name.
   */
  appliedMessageIds(
    messageIds: readonly string[],
    profiles?: ReadonlyMap<string, readonly string[]>,
  ): Promise<Set<string>>;
  /** Each commit is atomic on its own; commits for different keys are independent. */
  commit(commits: readonly ProfileCommit[]): Promise<CommitResult>;

  /** anonymousId -> userId for the ids that have been linked. */
  getAliases(anonymousIds: readonly string[]): Promise<Map<string, string>>;
  /** Links an anonymous id to a user id if it is not linked yet; returns the user id it is linked to. */
  linkAlias(anonymousId: string, userId: string): Promise<string>;

  /** Newest first, at most `limit`, none with an event time before `since` (ms). */
  recentEvents(key: string, limit: number, since?: number): Promise<StoredEvent[]>;
  /** Deletes the profile, its event history and its aliases. True when there was something to delete. */
  eraseProfile(key: string): Promise<boolean>;
  countProfiles(): Promise<number>;
  /**
   * One page of profiles in a stable order (by key), for background jobs over all users (recompute,
   * backfill, export). Pass the returned cursor to get the next page; null when done. Profiles created or
   * deleted during a scan may or may not be seen; every profile that exists for the whole scan is seen
   * exactly once. A page holds at most `limit` profiles (an integer >= 1) and may hold fewer, even none,
   * before the end: only a null cursor means done. A cursor is opaque and belongs to the adapter that
   * returned it. "By key" is the adapter's own string order: UTF-8 bytes for Redis and MongoDB, UTF-16
   * code units for memory (they differ only for keys with characters beyond U+FFFF vs U+E000-U+FFFF).
   *
   * With `segment`, only the members of that segment (scheduled journeys' audiences): an adapter may skip
   * the others before it decodes them, or find the members by an index.
   */
  scanProfiles(cursor: string | null, limit: number, filter?: ScanFilter): Promise<ProfilePage>;
  /**
   * The due index: profiles whose committed `checkAt` (their re-check timer) is set and `<= before`,
   * earliest first (ties by key, in the adapter's key order), at most `limit` (an integer >= 1). Kept by
   * `commit` (a profile's `checkAt` set, moved or cleared; an absorbed profile's removed) and
   * `eraseProfile`. What the sweeper pages through to re-add timers that were lost.
   *
   * `after`, the last entry of the previous page, starts the page after it in that order. An entry that
   * stays due for the whole paging is returned exactly once; an entry may be returned again if the
   * `after` entry itself changed meanwhile (paging then restarts at its `at`).
   */
  dueProfiles(before: number, limit: number, after?: DueProfile): Promise<DueProfile[]>;
  /**
   * Every counter of a scope (the totals of the commits' `counts`); an empty map when none. Read it
   * before the next await: an adapter may hand out its live map rather than a copy.
   */
  readCounters(scope: string): Promise<ReadonlyMap<string, number>>;
}

/** A profile's re-check timer as the due index holds it. */
export interface DueProfile {
  key: string;
  at: number;
}

export interface ScanFilter {
  segment?: string;
}

/** Whether a profile passes a scan's filter. */
export const passes = (profile: Pick<Profile, 'segments'>, filter?: ScanFilter): boolean =>
  filter?.segment === undefined || profile.segments.includes(filter.segment);

export interface ProfilePage {
  profiles: Profile[];
  /** Where the next page starts; null when the scan is complete. */
  cursor: string | null;
}

/** Throws unless `limit` is an integer >= 1 (shared by the adapters' scanProfiles and dueProfiles). */
export function checkScanLimit(limit: number, method = 'scanProfiles'): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`${method}: limit must be an integer >= 1, got ${limit}`);
  }
}

/** Throws unless dueProfiles' arguments are usable (a finite `before`, a limit >= 1, a well-formed `after`). */
export function checkDueArguments(before: number, limit: number, after?: DueProfile): void {
  if (typeof before !== 'number' || Number.isNaN(before)) {
    throw new TypeError(`dueProfiles: before must be a number, got ${before}`);
  }
  checkScanLimit(limit, 'dueProfiles');
  if (after !== undefined && (typeof after.key !== 'string' || !Number.isFinite(after.at))) {
    throw new TypeError('dueProfiles: after must be a { key, at } entry of a previous page');
  }
}

/** The due index entry a committed profile has: its `checkAt` when that is a number, else none. */
export function dueAt(profile: { checkAt?: number | null }): number | null {
  const at = profile.checkAt;
  return typeof at === 'number' && Number.isFinite(at) ? at : null;
}
