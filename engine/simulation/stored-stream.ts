/**
 * The calls kept in the store, as a stream of Segment messages again: what a backtest replays and what
 * the event export writes. Each user's calls come from their profile's history (an anonymous visitor
 * who identified is one user by then: their earlier calls carry the user id); the engine's own events
 * (segment moves, journey log, sends) are left out, since a replay makes its own.
 */
import type { StoredEvent } from '../../model/events.ts';
import type { JsonObject } from '../../model/json.ts';
import type { Profile } from '../../model/profile.ts';
import { HISTORY_LIMIT, type Store } from '../../ports/store.ts';

export interface StoredStreamOptions {
  /** Event times from (inclusive) and until (exclusive), ms. */
  since: number;
  until: number;
  /** Refuse a stream longer than this (a backtest holds it in memory). */
  maxMessages?: number;
  /** Called after each page of profiles with the profiles read so far. */
  onProgress?: (profiles: number, messages: number) => void;
}

/** The most calls a stream is read with over HTTP: it is held in memory to be put in time order. */
export const MAX_STORED_STREAM = 2_000_000;

/** Thrown when the period holds more calls than `maxMessages`. */
export class StreamTooLong extends Error {
  override readonly name = 'StreamTooLong';
}

const PAGE = 500;

/** One stored call as the Segment message that made it; null for an engine event or an alias. */
export function segmentMessage(profile: Profile, e: StoredEvent): JsonObject | null {
  if (e.type === 'internal' || e.type === 'alias') return null;
  const userId = profile.key.startsWith('u:') ? (profile.userId ?? profile.key.slice(2)) : undefined;
  // A visitor's calls before they identified stay anonymous; the identify that linked them says so.
  const who: JsonObject =
    userId === undefined
      ? { anonymousId: e.anonymousId ?? profile.key.slice(2) }
      : e.anonymousId === undefined
        ? { userId }
        : e.type === 'identify'
          ? { userId, anonymousId: e.anonymousId }
          : { anonymousId: e.anonymousId };
  return {
    type: e.type,
    messageId: e.messageId,
    ...who,
    ...(e.type === 'track' ? { event: e.event } : {}),
    ...(e.name !== undefined ? { name: e.name } : {}),
    ...(e.groupId !== undefined ? { groupId: e.groupId } : {}),
    ...(e.properties !== undefined ? { properties: e.properties } : {}),
    ...(e.traits !== undefined ? { traits: e.traits } : {}),
    ...(e.context !== undefined ? { context: e.context } : {}),
    timestamp: new Date(e.timestamp).toISOString(),
  };
}

/**
 * Every user's calls with event times in [since, until), in event-time order (ties by user, then by
 * message id, so the same store gives the same stream).
 */
export async function storedStream(store: Store, options: StoredStreamOptions): Promise<JsonObject[]> {
  const found: { at: number; key: string; messageId: string; message: JsonObject }[] = [];
  let cursor: string | null = null;
  let profiles = 0;
  do {
    const page = await store.scanProfiles(cursor, PAGE);
    cursor = page.cursor;
    const histories = await Promise.all(
      page.profiles.map(
        async (p) => [p, await store.recentEvents(p.key, HISTORY_LIMIT, options.since)] as const,
      ),
    );
    for (const [profile, events] of histories) {
      for (const e of events) {
        if (e.timestamp >= options.until) continue;
        const message = segmentMessage(profile, e);
        if (message) found.push({ at: e.timestamp, key: profile.key, messageId: e.messageId, message });
      }
      if (options.maxMessages !== undefined && found.length > options.maxMessages)
        throw new StreamTooLong(`more than ${options.maxMessages} calls in the period`);
    }
    profiles += page.profiles.length;
    options.onProgress?.(profiles, found.length);
  } while (cursor !== null);
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  found.sort((a, b) => a.at - b.at || order(a.key, b.key) || order(a.messageId, b.messageId));
  return found.map((f) => f.message);
}
