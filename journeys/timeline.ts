/** A user's journey execution log as readable lines (simulator output, tests). */
import type { StoredEvent } from '../model/events.ts';

const LOG_EVENTS = new Set([
  'journey_entered',
  'journey_step',
  'journey_exited',
  'message_sent',
  'message_skipped',
]);

export function isJourneyLog(e: StoredEvent): boolean {
  return e.type === 'internal' && LOG_EVENTS.has(e.event);
}

/**
 * Log entries in the order they were decided: by time, and where times tie (several steps at one
 * instant) by the user's log sequence number. Stores order ties differently, so always sort.
 */
export function inLogOrder(log: readonly StoredEvent[]): StoredEvent[] {
  const seq = (e: StoredEvent) => Number(e.properties?.seq ?? 0);
  return [...log].sort((a, b) => a.timestamp - b.timestamp || seq(a) - seq(b));
}

/**
 * The journey log entries of a user's history (any order), in the order they were decided. A
 * message reads as one entry, its decision, with the latest status logged for it (queued until the
 * gateway has taken it); one the gateway skipped reads as a skip, like one the walk skipped.
 */
export function journeyLogOf(history: readonly StoredEvent[]): StoredEvent[] {
  const idOf = (e: StoredEvent) => String(e.properties?.messageId);
  const queued = new Set(
    history.filter((e) => e.type === 'internal' && e.event === 'message_sent').map(idOf),
  );
  // A skip of a queued message is that message's status, not a decision of its own.
  const isStatus = (e: StoredEvent) =>
    e.type === 'internal' &&
    (e.event === 'message_status' || (e.event === 'message_skipped' && queued.has(idOf(e))));
  const status = new Map<string, StoredEvent>();
  for (const e of inLogOrder(history.filter(isStatus))) status.set(idOf(e), e);
  // A delivery receipt (an event of the user's, from the provider's push) is the latest word on a sent message.
  for (const e of history) {
    const delivered =
      e.event === 'message_delivered'
        ? 'delivered'
        : e.event === 'message_delivery_failed'
          ? 'undelivered'
          : null;
    const id = e.properties?.messageId;
    if (
      !delivered ||
      e.type !== 'track' ||
      typeof id !== 'string' ||
      status.get(id)?.properties?.status !== 'sent'
    )
      continue;
    const sent = status.get(id)!;
    status.set(id, {
      ...sent,
      timestamp: e.timestamp,
      properties: { ...sent.properties, status: delivered },
    });
  }
  return inLogOrder(history.filter((e) => isJourneyLog(e) && !isStatus(e))).map((e) => {
    const latest = e.event === 'message_sent' ? status.get(idOf(e)) : undefined;
    if (!latest) return e;
    const { status: now, attempt, reason } = latest.properties ?? {};
    if (latest.event === 'message_skipped') {
      const { status: _queued, ...decided } = e.properties ?? {};
      return {
        ...e,
        event: 'message_skipped',
        properties: { ...decided, reason: reason ?? null, attempt, statusAt: latest.timestamp },
      };
    }
    return {
      ...e,
      properties: {
        ...e.properties,
        status: now,
        attempt,
        ...(reason ? { reason } : {}),
        statusAt: latest.timestamp,
      },
    };
  });
}

/** `MM-DD HH:MM event detail` (UTC), in the order given. */
export function timelineLine(e: StoredEvent): string {
  const p = e.properties ?? {};
  const at = new Date(e.timestamp).toISOString().slice(5, 16).replace('T', ' ');
  let detail: string;
  switch (e.event) {
    case 'journey_entered':
      detail = `via ${p.trigger}${p.holdout ? ' (holdout)' : ''}`;
      break;
    case 'journey_exited':
      detail = String(p.reason);
      break;
    case 'message_sent':
      detail = `${p.channel}:${p.template} ${p.status}`;
      break;
    case 'message_skipped':
      detail = `${p.channel}:${p.template} ${p.reason}`;
      break;
    default:
      detail = [p.step, p.action, p.taken ?? p.path ?? p.dueAt ?? ''].filter((x) => x !== '').join(' ');
  }
  return `${at} ${e.event} ${detail}`.trim();
}
