import type { JsonObject } from './json.ts';

/** The Segment call types Tideline accepts. */
export type MessageType = 'track' | 'identify' | 'page' | 'screen' | 'alias' | 'group';

/** What a call carries besides its ids, alike on the queue and in the history. */
interface CallContent {
  /** `page` / `screen`: the page or screen name. */
  name?: string;
  /** `group` calls: the group (account, company, organisation) the user belongs to. */
  groupId?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
  /** Event time (ms since epoch): decisions use this, not arrival order. */
  timestamp: number;
  /**
   * The time the client's clock gave (ms since epoch), when the API corrected it for clock skew
   * (`timestamp` is then the corrected time).
   */
  originalTimestamp?: number;
  /** When the API received it (ms since epoch). */
  receivedAt: number;
}

/**
 * One Segment message after validation at the API: ids resolved, times as epoch milliseconds.
 * This is what travels on the ingest queue, many to a job.
 */
export interface InboundMessage extends CallContent {
  type: MessageType;
  messageId: string;
  userId?: string;
  anonymousId?: string;
  /** `alias` calls: the id being merged into `userId`. */
  previousId?: string;
  /** `track`: the event name. */
  event?: string;
}

/** An event as kept in a profile's history (the events collection). */
export interface StoredEvent extends CallContent {
  messageId: string;
  /** `internal`: raised by the engine itself (segment_entered, segment_exited, ...). */
  type: MessageType | 'internal';
  /** `track` event name; `page`/`screen` are stored as `page`/`screen` with `name` set. */
  event: string;
  /** The call's anonymousId, when it had no userId or was an identify (a visitor linked to a user). */
  anonymousId?: string;
  /** Arrived later than the grace period after its timestamp: stored, but drives no decision. */
  late?: boolean;
  /**
   * Part of imported history (or raised by the engine while it took that history in): it builds the
   * profile, but no journey reacts to it and no conversion is credited for it.
   */
  imported?: boolean;
}

/** Whether an event may move a user's journeys and conversions: neither late nor imported. */
export const drivesJourneys = (e: StoredEvent): boolean => !e.late && !e.imported;
