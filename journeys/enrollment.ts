/**
 * Where a user is in the journeys, kept on their profile so that every journey decision commits in
 * the same compare-and-set write as the event that caused it: a retried or concurrent worker can
 * neither enrol a user twice nor run a step twice.
 */
import { createHash } from 'node:crypto';
import type { Json } from '../model/json.ts';
import type { StoredEvent } from '../model/events.ts';
import type { Enrollment, JourneyMemory } from '../model/journeys.ts';

/** How many awaited events an enrollment remembers (the oldest are forgotten first). */
const SEEN_LIMIT = 20;

/** Remembers an awaited event on the enrollment; `used`: it passed a waitFor. */
export function rememberAwaited(enrollment: Enrollment, event: StoredEvent, used: boolean): void {
  const seen = (enrollment.seen ??= []);
  const known = seen.find((s) => s.event.messageId === event.messageId);
  if (known) {
    known.used ||= used;
    return;
  }
  // What a waitFor's `where` and `match` can read: not the context.
  const { messageId, type, event: name, properties, traits, timestamp, receivedAt } = event;
  const kept: StoredEvent = { messageId, type, event: name, timestamp, receivedAt };
  if (properties) kept.properties = properties;
  if (traits) kept.traits = traits;
  seen.push({ event: kept, used });
  if (seen.length > SEEN_LIMIT) seen.shift();
}

/** Whether the event already passed a waitFor of this enrollment. */
export const usedAwaited = (enrollment: Enrollment, event: StoredEvent): boolean =>
  enrollment.seen?.some((s) => s.used && s.event.messageId === event.messageId) ?? false;

export const emptyMemory = (): JourneyMemory => ({
  active: null,
  entries: 0,
  lastEnteredAt: null,
  lastExitedAt: null,
});

/** `<prefix>.<16 base64url chars of sha1(parts)>`. */
function shortId(prefix: string, ...parts: (string | number)[]): string {
  return `${prefix}.${createHash('sha1').update(parts.join('\u0000')).digest('base64url').slice(0, 16)}`;
}

/** 0-9999 from hash(journeyId, key): the same for every entry and version of a user in a journey. */
export function journeyBucket(journeyId: string, key: string, salt = ''): number {
  return createHash('sha1').update(`${journeyId}\u0000${key}\u0000${salt}`).digest().readUInt32BE(0) % 10_000;
}

/** The value at a dotted path (`properties.cartId`) of a stored event. */
export function valueAtPath(event: StoredEvent, path: string): Json | undefined {
  let value: unknown = event;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value as Json | undefined;
}

export type JourneyLogName =
  | 'journey_entered'
  | 'journey_held'
  | 'journey_step'
  | 'journey_exited'
  | 'message_sent'
  | 'message_skipped'
  | 'message_status';

/** Where in a journey a log entry was decided. */
export interface LogPlace {
  journeyId: string;
  version: number;
  enrollmentId: string;
  step: string;
}

/**
 * An execution log entry, stored once in the user's history: its id is named by `idParts` (the
 * decision), so it is stored once however often the decision is made again.
 */
export function logEntry(
  /** Numbers the user's log entries (`seq`), so the log reads in decision order where times tie. */
  counter: { journeyLogged?: number },
  name: JourneyLogName,
  place: LogPlace,
  idParts: readonly (string | number)[],
  at: number,
  now: number,
  details: Record<string, Json>,
): StoredEvent {
  counter.journeyLogged = (counter.journeyLogged ?? 0) + 1;
  const { journeyId, version, enrollmentId, step } = place;
  return {
    // Hashed short: the ids are members of the user's history set, which Redis keeps compact only
    // while members are short.
    messageId: shortId('j', name, ...idParts),
    type: 'internal',
    event: name,
    properties: { journeyId, version, enrollmentId, seq: counter.journeyLogged, step, ...details },
    timestamp: at,
    receivedAt: now,
  };
}

/** A decision of an enrollment at the step it is at (one per visit and action). */
export function journeyLog(
  counter: { journeyLogged?: number },
  name: JourneyLogName,
  journeyId: string,
  enrollment: Enrollment,
  at: number,
  now: number,
  details: Record<string, Json>,
): StoredEvent {
  const action = typeof details.action === 'string' ? details.action : name;
  const place = {
    journeyId,
    version: enrollment.version,
    enrollmentId: enrollment.id,
    step: enrollment.step,
  };
  return logEntry(counter, name, place, [enrollment.id, enrollment.visits, action], at, now, details);
}
