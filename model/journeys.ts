import type { SendChannel, QuietHours } from './channels.ts';
import type { StoredEvent } from './events.ts';
import type { Json } from './json.ts';

export interface Enrollment {
  /** `<journeyId>:<trigger messageId>`: one enrollment per trigger event. */
  id: string;
  /** The journey version the user entered and stays on. */
  version: number;
  /** Event time of the trigger. */
  enteredAt: number;
  trigger: { messageId: string; event: string };
  /** Values of the trigger at the paths waitFor steps match on (`properties.cartId`). */
  keys: Record<string, Json>;
  /** A holdout user walks as a shadow: every gate is evaluated, nothing is sent. */
  holdout: boolean;
  /** The step the user is at. */
  step: string;
  /** When they reached it (logical time: the trigger's, a timer's due time, an awaited event's). */
  arrivedAt: number;
  /** Steps reached so far; with the step id it names each visit (deterministic message ids). */
  visits: number;
  /** A wait's due time or a waitFor's timeout; null while nothing is pending. */
  dueAt: number | null;
  /** Calls made so far at the webhook step the user is at. */
  webhookAttempts?: number;
  /** Why a send step waits: for a trailing identify (`contact`), or for quiet hours to end. */
  deferral?: 'contact' | 'quiet';
  /**
   * Events the journey's waitFor steps await, seen since entry while the user was elsewhere (a waitFor
   * reached later passes at once on one), and those that already passed a waitFor (each passes one).
   */
  seen?: { event: StoredEvent; used: boolean }[];
}

/** One user's record of one journey. */
export interface JourneyMemory {
  active: Enrollment | null;
  entries: number;
  lastEnteredAt: number | null;
  lastExitedAt: number | null;
  /** The messageId of the trigger that last enrolled the user: the same trigger never enrols twice. */
  lastTrigger?: string;
  /**
   * A trigger that found the user reachable on none of the journey's send channels, held until
   * `until` for an identify that often trails it (with the address or the consent); the user enters
   * (at the trigger's time) once reachable, or the trigger is let go at `until`.
   */
  awaitingContact?: { trigger: StoredEvent; until: number };
}

export type JourneyMemories = Record<string, JourneyMemory>;

/**
 * A message a journey decided to send, waiting in the user's outbox (on the profile, written in the
 * same commit as the decision) until the gateway has taken it. Its id is deterministic (enrollment,
 * step, visit), so a retried or crashed worker hands the gateway the same message again, never a
 * second one.
 */
export interface OutboxMessage {
  messageId: string;
  journeyId: string;
  enrollmentId: string;
  version: number;
  step: string;
  channel: SendChannel;
  template: string;
  variant?: number;
  /** The event that enrolled the user (templates read it as `event`). */
  trigger: { messageId: string; at: number };
  /** The journey's send policy, as it was decided (checked again when the message leaves). */
  transactional?: boolean;
  quietHours?: QuietHours;
  /** The logical time the send was decided at. */
  requestedAt: number;
  /** Gateway calls made so far. */
  attempts: number;
  /** When the next call is due (the decision's time, or a retry's). */
  dueAt: number;
  /** Why the gateway holds it until `dueAt` (quiet hours, a paused channel), while it does. */
  deferred?: string;
}
