import type { Profile } from '../model/profile.ts';
import type { OutboxMessage } from '../model/journeys.ts';

export interface SendRequest {
  message: OutboxMessage;
  /** The user as they are when the message leaves (address, consent, traits for the template). */
  profile: Readonly<Profile>;
}

/**
 * What became of a message: taken by a provider (`sent`), recorded by the sandbox (`sandbox`), not
 * sent for a policy reason (`skipped`), given up (`failed`), possibly taken but never confirmed
 * (`unknown`: never re-sent blindly), to be tried again at `retryAt` (`retry`, counts as an attempt),
 * held until `retryAt` by policy (`deferred`: quiet hours, a paused channel; not an attempt), or
 * nothing yet (`busy`: another hand-over of the same message holds its claim and records its outcome).
 */
export type SendOutcome =
  | { status: 'sent'; provider?: string; providerId?: string; segments?: number }
  | { status: 'sandbox' }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string; code?: string; forgetPushToken?: string }
  | { status: 'unknown'; reason: string }
  | { status: 'retry'; reason: string; retryAt: number }
  | { status: 'deferred'; reason: string; retryAt: number }
  | { status: 'busy' };

/**
 * The port every send goes through. Adapters claim the message id before they call a provider, so
 * handing them the same message twice sends it once (channels/).
 */
export interface ChannelGateway {
  send(request: SendRequest): Promise<SendOutcome>;
}
