/**
 * The claim and rate-window rules, written once: the memory adapter runs them directly, the Redis
 * adapter's Lua scripts mirror them (and the conformance suite holds both to the same answers).
 */
import { createHash } from 'node:crypto';
import type { Claim, ClaimRequest, MessageRecord } from '../../../ports/channel-state.ts';

/**
 * How index and inbound-dedupe keys are kept: as a digest, because they name addresses
 * (`aliyun-sms:<biz_id>:<phone>`, `aliyun-sms:up:<phone>:<seq>`); looked up by the same digest.
 */
export const blind = (key: string): string => createHash('sha256').update(key).digest('base64url');

/** What `blind` makes of a key: 43 characters of base64url. */
export const DIGEST = /^[\w-]{43}$/;

/** The claim a request gets on the current record, and the record to write (none: unchanged). */
export function nextClaim(
  current: MessageRecord | undefined,
  request: ClaimRequest,
): { claim: Claim; write?: MessageRecord } {
  const { messageId, profileKey, journeyId, channel, now, leaseMs, version, step, template } = request;
  if (!current) {
    const record: MessageRecord = {
      messageId,
      state: 'sending',
      claimedAt: now,
      firstAttemptAt: now,
      attempts: 1,
      profileKey,
      journeyId,
      channel,
      ...(version !== undefined ? { version } : {}),
      ...(step !== undefined ? { step } : {}),
      ...(template !== undefined ? { template } : {}),
    };
    return { claim: { kind: 'go', record }, write: record };
  }
  switch (current.state) {
    case 'done':
      return { claim: { kind: 'done', record: current } };
    case 'unknown':
      return { claim: { kind: 'unknown', record: current } };
    case 'retry': {
      const record = {
        ...current,
        state: 'sending' as const,
        claimedAt: now,
        attempts: current.attempts + 1,
      };
      return { claim: { kind: 'go', record }, write: record };
    }
    case 'sending': {
      if (current.claimedAt + leaseMs > now) return { claim: { kind: 'busy', record: current } };
      // The holder died during its call: the provider may have taken the message.
      const record = { ...current, state: 'unknown' as const };
      return { claim: { kind: 'unknown', record }, write: record };
    }
  }
}

/**
 * A generic cell rate: one slot every 1000/rate ms, up to a tenth of a second's worth at once.
 * `tat` is the theoretical arrival time of the next slot; the caller waits `wait` ms, then calls.
 */
export function rateWait(tat: number, ratePerSecond: number, now: number): { wait: number; next: number } {
  const interval = 1000 / ratePerSecond;
  const next = Math.max(tat, now) + interval;
  return { wait: Math.max(0, next - now - Math.max(interval, 100)), next };
}
