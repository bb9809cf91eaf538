import { fileURLToPath } from 'node:url';
import type { StoredEvent } from '../../model/events.ts';

/** The workspace of the Redis-only journey tests: two_waits (send, wait 2 s, send, wait 3 s, send). */
export const TWO_WAITS_WORKSPACE = fileURLToPath(new URL('./workspace', import.meta.url));

/** A two_waits user whose timers all fire on time, as relativeTimeline shows it. */
export const ON_TIME = [
  '+0 journey_entered first',
  '+0 message_sent first send',
  '+0 journey_step wait_2s reached',
  '+0 journey_step wait_2s timer due +2000',
  '+2000 journey_step second reached',
  '+2000 message_sent second send',
  '+2000 journey_step wait_3s reached',
  '+2000 journey_step wait_3s timer due +5000',
  '+5000 journey_step third reached',
  '+5000 message_sent third send',
  '+5000 journey_exited third',
];

/** Each decision with its time (and a timer's due time) in ms after the user's signup: runs compare. */
export function relativeTimeline(log: readonly StoredEvent[], signup: number): string[] {
  return log.map((e) => {
    const p = e.properties ?? {};
    const due = typeof p.dueAt === 'string' ? ` due +${Date.parse(p.dueAt) - signup}` : '';
    return `+${e.timestamp - signup} ${e.event} ${p.step}${p.action ? ` ${p.action}` : ''}${due}`;
  });
}

/** `signed_up` of users `<prefix>-0` ... one millisecond apart from `start`, with fixed messageIds. */
export function signups(prefix: string, count: number, start: number) {
  return Array.from({ length: count }, (_, i) => ({
    type: 'track',
    userId: `${prefix}-${i}`,
    event: 'signed_up',
    messageId: `signup-${prefix}-${i}`,
    timestamp: new Date(start + i).toISOString(),
  }));
}
