import type { Channel, QuietHours } from '../journeys/journey.ts';
import type { Profile } from '../model/profile.ts';

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
  channel: Channel;
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
}

export interface SendRequest {
  message: OutboxMessage;
  /** The user as they are when the message leaves (address, consent, traits for the template). */
  profile: Readonly<Profile>;
}

/**
 * What became of a message: taken by a provider (`sent`), recorded by the sandbox (`sandbox`), not
 * sent for a policy reason (`skipped`), given up (`failed`), possibly taken but never confirmed
 * (`unknown`: never re-sent blindly), to be tried again at `retryAt` (`retry`, counts as an attempt),
 * or held until `retryAt` by policy (`deferred`: quiet hours, a paused channel; not an attempt).
 */
export type SendOutcome =
  | { status: 'sent'; provider?: string; providerId?: string; segments?: number }
  | { status: 'sandbox' }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string; code?: string; forgetPushToken?: string }
  | { status: 'unknown'; reason: string }
  | { status: 'retry'; reason: string; retryAt: number }
  | { status: 'deferred'; reason: string; retryAt: number };

/**
 * The port every send goes through. Adapters claim the message id before they call a provider, so
 * handing them the same message twice sends it once (channels/).
 */
export interface ChannelGateway {
  send(request: SendRequest): Promise<SendOutcome>;
}
