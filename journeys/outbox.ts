/**
 * The user's outbox: a send step's decision puts the message here in the same commit (status
 * `queued` in the log); the user's timer job hands due messages to the channel gateway outside the
 * commit, then records each outcome and takes the message out (or keeps it for a retry). A worker
 * that dies between the call and that commit hands the same message id over again, and the gateway,
 * which claims ids before it calls a provider, sends it once.
 */
import type { StoredEvent } from '../model/events.ts';
import type { Json } from '../model/json.ts';
import type { ChannelGateway, SendOutcome } from '../ports/channel-gateway.ts';
import type { Profile } from '../model/profile.ts';
import { logEntry } from './enrollment.ts';
import type { OutboxMessage } from '../model/journeys.ts';
import { sendBackoff } from '../policy/send-time.ts';

/** Gateway calls per message at most; the last `retry` answer fails it. */
export const MAX_SEND_ATTEMPTS = 5;

/** Outcomes by `attemptKey`, from one round of calls. */
export type SendOutcomes = ReadonlyMap<string, SendOutcome>;

const attemptKey = (m: OutboxMessage): string => `${m.messageId}#${m.attempts + 1}`;

/** When the first message in the outbox is due; null when it is empty. */
export function nextSendDue(profile: Profile): number | null {
  let next: number | null = null;
  for (const m of profile.outbox ?? []) if (next === null || m.dueAt < next) next = m.dueAt;
  return next;
}

/** Hands the due messages to the gateway (in parallel); a gateway that throws asks for a retry. */
export async function deliverSends(
  profile: Profile,
  gateway: ChannelGateway,
  now: number,
): Promise<SendOutcomes> {
  const due = (profile.outbox ?? []).filter((m) => m.dueAt <= now);
  const outcomes = await Promise.all(
    due.map(async (message): Promise<[string, SendOutcome]> => {
      try {
        return [attemptKey(message), await gateway.send({ message, profile })];
      } catch (error) {
        const retryAt = now + sendBackoff(message.attempts + 1);
        return [attemptKey(message), { status: 'retry', reason: (error as Error).message, retryAt }];
      }
    }),
  );
  return new Map(outcomes);
}

/**
 * Records the outcomes of this round in the user's log and updates the outbox. An outcome whose
 * attempt another worker already recorded is ignored, so each attempt is logged once.
 */
export function recordSends(profile: Profile, outcomes: SendOutcomes, now: number): StoredEvent[] {
  if (outcomes.size === 0 || !profile.outbox) return [];
  const log: StoredEvent[] = [];
  const kept: OutboxMessage[] = [];
  for (const message of profile.outbox) {
    const outcome = outcomes.get(attemptKey(message));
    if (!outcome) {
      kept.push(message);
      continue;
    }
    // A deferral (quiet hours, a paused channel) is not an attempt.
    const attempt = outcome.status === 'deferred' ? message.attempts : message.attempts + 1;
    const giveUp = outcome.status === 'retry' && attempt >= MAX_SEND_ATTEMPTS;
    const status = giveUp ? 'failed' : outcome.status;
    const details: Record<string, Json> = { status, attempt };
    if (outcome.status === 'sent') {
      if (outcome.provider) details.provider = outcome.provider;
      if (outcome.providerId) details.providerId = outcome.providerId;
      if (outcome.segments !== undefined) details.segments = outcome.segments;
    } else if (outcome.status !== 'sandbox') details.reason = outcome.reason;
    if (outcome.status === 'failed' && outcome.code) details.code = outcome.code;
    if ((outcome.status === 'retry' && !giveUp) || outcome.status === 'deferred') {
      details.retryAt = new Date(outcome.retryAt).toISOString();
      kept.push({ ...message, attempts: attempt, dueAt: outcome.retryAt });
    }
    // The provider said the device is gone: the token goes with the outcome's commit.
    if (outcome.status === 'failed' && outcome.forgetPushToken) {
      profile.pushTokens = profile.pushTokens.filter((t) => t.token !== outcome.forgetPushToken);
    }
    const { messageId, channel, template } = message;
    log.push(
      logEntry(
        profile,
        'message_status',
        message,
        outcome.status === 'deferred'
          ? [messageId, attempt, 'deferred', message.dueAt]
          : [messageId, attempt],
        // Logical time, like every journey decision: when the message was due (a replay or a late
        // timer stamps it then, not when the worker got to it).
        Math.max(message.dueAt, message.requestedAt),
        now,
        { messageId, channel, template, ...details },
      ),
    );
  }
  if (kept.length > 0) profile.outbox = kept;
  else delete profile.outbox;
  return log;
}
