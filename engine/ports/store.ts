import type { StoredEvent } from '../events.ts';
import type { Profile } from '../profiles/profile.ts';

/**
 * One atomic change to one profile: either all of it is written or none (a version conflict).
 * The applied message ids are recorded in the same step, which is what makes a replayed job
 * (a crashed worker, a retried batch) change nothing the second time.
 */
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

  getProfiles(keys: readonly string[]): Promise<Map<string, Profile>>;
  /** Which of these message ids were already applied within the dedupe horizon. */
  appliedMessageIds(messageIds: readonly string[]): Promise<Set<string>>;
  /** Each commit is atomic on its own; commits for different keys are independent. */
  commit(commits: readonly ProfileCommit[]): Promise<CommitResult>;

  /** anonymousId -> userId for the ids that have been linked. */
  getAliases(anonymousIds: readonly string[]): Promise<Map<string, string>>;
  /** Links an anonymous id to a user id if it is not linked yet; returns the user id it is linked to. */
  linkAlias(anonymousId: string, userId: string): Promise<string>;

  /** Newest first. */
  recentEvents(key: string, limit: number): Promise<StoredEvent[]>;
  /** Deletes the profile, its event history and its aliases. True when there was something to delete. */
  eraseProfile(key: string): Promise<boolean>;
  countProfiles(): Promise<number>;
}
