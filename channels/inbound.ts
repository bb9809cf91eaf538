/**
 * What providers push back to us (delivery receipts, replies, WeChat events), parsed by each
 * provider's module into these facts. The API's inbound routes dedupe them by `dedupeKey` (providers
 * retry their pushes) and apply them: receipts update the message record and become events,
 * opt-outs go into the suppression list, calls are ingested like any Segment call.
 */
import { createHash } from 'node:crypto';
import type { InboundMessage } from '../model/events.ts';
import type { ChannelState, MessageRecord } from '../ports/channel-state.ts';
import { creditKey } from './policy.ts';

/** A delivery receipt: the provider says whether a message reached the handset / user. */
export interface ReceiptFact {
  kind: 'receipt';
  provider: string;
  /** Our message id when the provider echoes it (Aliyun `out_id`). */
  messageId?: string;
  /** The provider's id of the message (Aliyun `biz_id`, WeChat `MsgID`). */
  providerId?: string;
  /** The recipient, when the receipt names it (a batch's receipts share one provider id). */
  address?: string;
  delivered: boolean;
  /** The provider's receipt code (`DELIVERED`, `UNDELIV`, `failed:user block`). */
  code?: string;
  /** SMS: billed segments. */
  segments?: number;
  at: number;
  dedupeKey: string;
}

/** The recipient asked to hear no more on this address (SMS reply R/T/TD/退订, one-click unsubscribe). */
export interface OptOutFact {
  kind: 'optout';
  channel: 'sms' | 'email' | 'push' | 'wechat';
  /** The phone number, email address, device token or openid. */
  address: string;
  at: number;
  dedupeKey: string;
}

/** A Mini Program / service-account subscription answer for one template (credits). */
export interface SubscriptionFact {
  kind: 'subscription';
  appId: string;
  openId: string;
  templateId: string;
  /** accept: one more send allowed; reject: none until the user accepts again. */
  status: 'accept' | 'reject';
  at: number;
  dedupeKey: string;
}

/** A Segment call to ingest for the user (WeChat follow, scan, click...; consent changes as identify). */
export interface CallFact {
  kind: 'call';
  /** Without `receivedAt`: the route stamps it. `messageId` is deterministic (derived from dedupeKey). */
  call: Omit<InboundMessage, 'receivedAt'>;
  dedupeKey: string;
}

export type InboundFact = ReceiptFact | OptOutFact | SubscriptionFact | CallFact;

/** How long an inbound key is remembered (providers retry pushes within minutes to hours). */
const DEDUPE_MS = 7 * 24 * 3600_000;

export interface InboundDeps {
  state: ChannelState;
  ingestor: { accept(messages: InboundMessage[]): Promise<void> };
  now: () => number;
}

/** What applying a push did, for the route's answer and the log. */
export interface InboundSummary {
  applied: number;
  duplicates: number;
  /** Receipts for messages we have no record of (sent by something else, or expired). */
  unmatched: number;
}

/** The Segment ids of a profile key (`u:<userId>`, `a:<anonymousId>`). */
export function idsOf(profileKey: string): { userId: string } | { anonymousId: string } {
  return profileKey.startsWith('u:') ? { userId: profileKey.slice(2) } : { anonymousId: profileKey.slice(2) };
}

/** A deterministic Segment messageId for something an inbound fact caused. */
export const inboundMessageId = (dedupeKey: string, what: string): string =>
  `in-${createHash('sha256').update(`${dedupeKey}|${what}`).digest('base64url').slice(0, 22)}`;

/**
 * Applies parsed pushes once each: receipts update the message record and become a
 * `message_delivered` / `message_delivery_failed` event of the user; opt-outs suppress the address;
 * subscription answers move the Mini Program credits; calls are ingested.
 */
export async function applyInbound(facts: InboundFact[], deps: InboundDeps): Promise<InboundSummary> {
  const { state, now } = deps;
  const summary: InboundSummary = { applied: 0, duplicates: 0, unmatched: 0 };
  // Side by side: a provider's push can carry many facts (Aliyun batches its receipts).
  const fresh = await Promise.all(facts.map((fact) => state.firstSeen(fact.dedupeKey, DEDUPE_MS)));
  const calls = await Promise.all(
    facts.map(async (fact, i): Promise<InboundMessage | null> => {
      if (!fresh[i]) {
        summary.duplicates++;
        return null;
      }
      summary.applied++;
      switch (fact.kind) {
        case 'receipt': {
          const record = await recordReceipt(state, fact);
          if (!record) summary.unmatched++;
          return record && receiptEvent(fact, record, now());
        }
        case 'optout':
          await state.suppress(fact.channel, fact.address, { reason: 'opt_out', at: fact.at });
          return null;
        case 'subscription':
          await state.grantCredit(creditKey(fact, fact), fact.status);
          return null;
        case 'call':
          return { ...fact.call, receivedAt: now() };
      }
    }),
  );
  const queued = calls.filter((c) => c !== null);
  if (queued.length > 0) {
    try {
      await deps.ingestor.accept(queued);
    } catch (error) {
      // Not taken: the provider's retry must not be mistaken for a duplicate.
      await state.forgetSeen(facts.filter((_, i) => calls[i] !== null).map((f) => f.dedupeKey));
      throw error;
    }
  }
  return summary;
}

/** The receipt's facts on our record of the message, found by our id or the provider's; null: no record. */
async function recordReceipt(state: ChannelState, fact: ReceiptFact): Promise<MessageRecord | null> {
  const fields: Partial<MessageRecord> = {
    deliveredAt: fact.at,
    ...(fact.code ? { deliveryCode: fact.code } : {}),
    ...(fact.segments !== undefined ? { segments: fact.segments } : {}),
  };
  const echoed = fact.messageId ? await state.update(fact.messageId, fields) : null;
  if (echoed || !fact.providerId) return echoed;
  const found =
    (fact.address ? await state.lookup(`${fact.provider}:${fact.providerId}:${fact.address}`) : null) ??
    (await state.lookup(`${fact.provider}:${fact.providerId}`));
  return found ? state.update(found, fields) : null;
}

/** The journey version, step and template of a message's record, for its receipt and click events. */
export const placeOf = ({ version, step, template }: MessageRecord) => ({
  ...(version !== undefined ? { version } : {}),
  ...(step !== undefined ? { step } : {}),
  ...(template !== undefined ? { template } : {}),
});

/** A receipt as an event of the message's user. */
function receiptEvent(fact: ReceiptFact, record: MessageRecord, receivedAt: number): InboundMessage {
  return {
    type: 'track',
    messageId: inboundMessageId(fact.dedupeKey, 'receipt'),
    ...idsOf(record.profileKey),
    event: fact.delivered ? 'message_delivered' : 'message_delivery_failed',
    properties: {
      messageId: record.messageId,
      journeyId: record.journeyId,
      ...placeOf(record),
      channel: record.channel,
      provider: fact.provider,
      ...(fact.code ? { code: fact.code } : {}),
    },
    timestamp: fact.at,
    receivedAt,
  };
}
