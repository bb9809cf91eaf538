import type { JsonObject } from './json.ts';

/** The Segment call types Tideline accepts. `group` is not accepted (no account model yet). */
export type MessageType = 'track' | 'identify' | 'page' | 'screen' | 'alias';

/**
 * One Segment message after validation at the API: ids resolved, times as epoch milliseconds.
 * This is what travels on the ingest queue, many to a job.
 */
export interface InboundMessage {
  type: MessageType;
  messageId: string;
  userId?: string;
  anonymousId?: string;
  /** `alias` calls: the id being merged into `userId`. */
  previousId?: string;
  /** `track`: the event name. */
  event?: string;
  /** `page` / `screen`: the page or screen name. */
  name?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
  /** Event time (ms since epoch): decisions use this, not arrival order. */
  timestamp: number;
  /** When the API received it (ms since epoch). */
  receivedAt: number;
}

/** An event as kept in a profile's history (the events collection). */
export interface StoredEvent {
  messageId: string;
  /** `internal`: raised by the engine itself (segment_entered, segment_exited, ...). */
  type: MessageType | 'internal';
  /** `track` event name; `page`/`screen` are stored as `page`/`screen` with `name` set. */
  event: string;
  name?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
  timestamp: number;
  receivedAt: number;
  /** Arrived later than the grace period after its timestamp: stored, but drives no decision. */
  late?: boolean;
}
