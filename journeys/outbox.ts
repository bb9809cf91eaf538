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

/** A round's outcome of a message, with the due time it was handed over at. */
export interface HandedOutcome {
  outcome: SendOutcome;
  dueAt: number;
}

/** Outcomes by `attemptKey`, from one round of calls. */
export type SendOutcomes = ReadonlyMap<string, HandedOutcome>;

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
    due.map(async (message): Promise<[string, HandedOutcome]> => {
      let outcome: SendOutcome;
      try {
        outcome = await gateway.send({ message, profile });
      } catch (error) {
        outcome = {
          status: 'retry',
          reason: (error as Error).message,
          retryAt: now + sendBackoff(message.attempts + 1),
        };
      }
      return [attemptKey(message), { outcome, dueAt: message.dueAt }];
    }),
  );
  return new Map(outcomes);
}

/**
 * Records the outcomes of this round in the user's log and updates the outbox. Each outcome is
 * recorded only on the message as it was handed over: an attempt another worker already recorded,
 * or a deferral of a round another worker already deferred, is ignored, so the outbox moves forward
 * once per round and each status change is logged once. A message's status entries are stamped with
 * its due time, which only moves forward, so the last one logged is also the latest.
 */
export function recordSends(profile: Profile, outcomes: SendOutcomes, now: number): StoredEvent[] {
  if (outcomes.size === 0 || !profile.outbox) return [];
  const log: StoredEvent[] = [];
  const kept: OutboxMessage[] = [];
  for (const message of profile.outbox) {
    const handed = outcomes.get(attemptKey(message));
    const outcome = handed?.outcome;
    if (
      !outcome ||
      outcome.status === 'busy' ||
      (outcome.status === 'deferred' && handed.dueAt !== message.dueAt)
    ) {
      kept.push(message);
      continue;
    }
    // Logical time, like every journey decision: when the message was due (a replay or a late
    // timer stamps it then, not when the worker got to it).
    const at = Math.max(message.dueAt, message.requestedAt);
    const { messageId, channel, template } = message;
    if (outcome.status === 'deferred') {
      const next = { ...message, dueAt: Math.max(outcome.retryAt, message.dueAt), deferred: outcome.reason };
      kept.push(next);
      // Held again for the same reason: the status has not changed.
      if (message.deferred === outcome.reason) continue;
      log.push(
        logEntry(
          profile,
          'message_status',
          message,
          [messageId, message.attempts, 'deferred', message.dueAt],
          at,
          now,
          {
            messageId,
            channel,
            template,
            status: 'deferred',
            attempt: message.attempts,
            reason: outcome.reason,
            retryAt: new Date(next.dueAt).toISOString(),
          },
        ),
      );
      continue;
    }
    const attempt = message.attempts + 1;
    const giveUp = outcome.status === 'retry' && attempt >= MAX_SEND_ATTEMPTS;
    if (outcome.status === 'skipped') {
      // Skipped at the gateway is logged as the walk logs a skip: one entry with its reason.
      log.push(
        logEntry(profile, 'message_skipped', message, [messageId, attempt], at, now, {
          action: 'send',
          messageId,
          channel,
          template,
          reason: outcome.reason,
          attempt,
        }),
      );
      continue;
    }
    const status = giveUp ? 'failed' : outcome.status;
    const details: Record<string, Json> = { status, attempt };
    if (outcome.status === 'sent') {
      if (outcome.provider) details.provider = outcome.provider;
      if (outcome.providerId) details.providerId = outcome.providerId;
      if (outcome.segments !== undefined) details.segments = outcome.segments;
    } else if (outcome.status !== 'sandbox') details.reason = outcome.reason;
    if (outcome.status === 'failed' && outcome.code) details.code = outcome.code;
    if (outcome.status === 'retry' && !giveUp) {
      const { deferred: _deferred, ...retried } = message;
      const dueAt = Math.max(outcome.retryAt, message.dueAt);
      details.retryAt = new Date(dueAt).toISOString();
      kept.push({ ...retried, attempts: attempt, dueAt });
    }
    // The provider said the device is gone: the token goes with the outcome's commit.
    if (outcome.status === 'failed' && outcome.forgetPushToken) {
      profile.pushTokens = profile.pushTokens.filter((t) => t.token !== outcome.forgetPushToken);
    }
    log.push(
      logEntry(profile, 'message_status', message, [messageId, attempt], at, now, {
        messageId,
        channel,
        template,
        ...details,
      }),
    );
  }
  if (kept.length > 0) profile.outbox = kept;
  else delete profile.outbox;
  return log;
}
