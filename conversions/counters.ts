/**
 * The report counters: what each field of a journey's scopes (`j:<journeyId>:<day>`) and of the
 * workspace's (`w:<day>`) counts. A field is `<metric>|<dimension>|...|<hour>`, where the hour is the
 * event time's UTC hour (ms / 3,600,000): a report in a zone whose offset is whole hours (Asia/Shanghai,
 * UTC, Europe/*, America/*) adds hours up into its local days exactly; zones with a half- or quarter-hour
 * offset (Asia/Kolkata) see day boundaries rounded down to the hour. Revenue is counted in hundredths
 * (integer arithmetic, exact sums).
 *
 * | metric | dimensions                                      | counts                                      |
 * |--------|-------------------------------------------------|---------------------------------------------|
 * | e      | version, group (t/h/c), entry hour              | enrollments (c: global control, held)       |
 * | x      | version, step, hour                             | arrivals at a step                          |
 * | b      | version, step, path, hour                       | branch / split paths taken                  |
 * | z      | version, reason, hour                           | exits                                       |
 * | m      | version, step, channel, template, status, hour  | message outcomes (sent, delivered, clicked…) |
 * | c      | version, group, entry hour, conversion hour     | converted enrollments (first goal event)    |
 * | o / re | version, group, entry hour                      | distinct orders / their revenue, by cohort  |
 * | rd     | version, group, order hour                      | revenue by the order's date                 |
 * | cm     | version, step, channel, template, conversion h  | conversions credited to the last message    |
 * | rm     | version, step, channel, template, order hour    | revenue credited to the last message        |
 * | mc     | version, step, channel, template, send hour     | messages with a goal event in their own window |
 * | lt/ltr | (workspace) journey, order hour                 | last-touch orders / revenue                 |
 */
import type { StoredEvent } from '../model/events.ts';
import { addCount, type Store } from '../ports/store.ts';
import type { Counts } from '../model/conversions.ts';

export const BUCKET_MS = 3_600_000;
/** The counters' time bucket of an event time: its UTC hour. */
export const bucket = (at: number): number => Math.floor(at / BUCKET_MS);

/**
 * Counters live in one scope per journey and UTC day (`j:<journeyId>:<day>`; the workspace's last-touch
 * view in `w:<day>`), by the day of the field's last hour: a report reads the days its range needs,
 * not everything the journey ever counted.
 */
export const journeyScope = (journeyId: string, hour: number): string =>
  `j:${journeyId}:${Math.floor(hour / 24)}`;
export const workspaceScope = (hour: number): string => `w:${Math.floor(hour / 24)}`;

/** Adds `by` to the field `<parts>|<hour>`, in its journey's (or with null the workspace's) scope of that day. */
export function countAt(
  counts: Counts,
  journeyId: string | null,
  parts: readonly (string | number)[],
  hour: number,
  by: number,
): void {
  const scope = journeyId === null ? workspaceScope(hour) : journeyScope(journeyId, hour);
  addCount(counts, scope, field(...parts, hour), by);
}

/** Every counter of a journey (or with null the workspace) whose hour falls in [fromMs, toMs], and some around it. */
export async function readCounterDays(
  store: Pick<Store, 'readCounters'>,
  journeyId: string | null,
  fromMs: number,
  toMs: number,
): Promise<ReadonlyMap<string, number>[]> {
  const scopes: string[] = [];
  for (let day = Math.floor(bucket(fromMs) / 24); day <= Math.floor(bucket(toMs) / 24); day++)
    scopes.push(journeyId === null ? `w:${day}` : `j:${journeyId}:${day}`);
  return Promise.all(scopes.map((scope) => store.readCounters(scope)));
}

/** A field name; `|` inside a part (a free-text exit reason) is replaced so fields split back cleanly. */
export const field = (...parts: (string | number)[]): string =>
  parts.map((p) => String(p).replaceAll('|', '/')).join('|');

/** Receipts and clicks, as the channels record them on the user (with the message's place). */
const RECEIPTS: Record<string, string> = {
  message_delivered: 'delivered',
  message_delivery_failed: 'undelivered',
  message_clicked: 'clicked',
};

/**
 * A receipt or click of a journey's message counts under the step, channel and template that sent
 * it. Each is one event of the user, applied once (the channels mark a message's first click; a
 * provider's repeated push is a duplicate).
 */
function countReceipt(counts: Counts, e: StoredEvent): void {
  const what = RECEIPTS[e.event];
  const p = e.properties ?? {};
  if (!what || typeof p.journeyId !== 'string' || typeof p.step !== 'string' || p.version === undefined)
    return;
  const parts = ['m', String(p.version), p.step, String(p.channel), String(p.template), what];
  countAt(counts, p.journeyId, parts, bucket(e.timestamp), 1);
}

/** Statuses a message's log can end in that the reports count (retries and deferrals are not outcomes). */
const COUNTED_STATUSES = new Set(['sent', 'sandbox', 'failed', 'skipped', 'unknown']);

/** Adds the counts the journey log entries among `events` stand for. */
export function countJourneyLog(counts: Counts, events: readonly StoredEvent[]): void {
  for (const e of events) {
    const p = e.properties ?? {};
    if (e.type !== 'internal') {
      countReceipt(counts, e);
      continue;
    }
    if (typeof p.journeyId !== 'string') continue;
    const journeyId = p.journeyId;
    const q = bucket(e.timestamp);
    const { version, step } = p;
    const count = (...parts: (string | number)[]) => countAt(counts, journeyId, parts, q, 1);
    const message = (status: unknown) =>
      count('m', String(version), String(step), String(p.channel), String(p.template), String(status));
    switch (e.event) {
      case 'journey_entered':
        count('e', String(version), p.holdout ? 'h' : 't');
        count('x', String(version), String(step));
        break;
      case 'journey_held':
        count('e', String(version), 'c');
        break;
      case 'journey_step':
        if (p.action === 'reached') count('x', String(version), String(step));
        else if (p.action === 'branch') count('b', String(version), String(step), String(p.taken));
        else if (p.action === 'split') count('b', String(version), String(step), String(p.path));
        // A waitFor's two ways out.
        else if (p.action === 'event' || p.action === 'timeout')
          count('b', String(version), String(step), p.action);
        break;
      case 'journey_exited':
        count('z', String(version), String(p.reason));
        break;
      case 'message_sent':
        // Queued and shadow decisions are in the decision export; the reports count outcomes.
        break;
      case 'message_skipped':
        message('skipped');
        break;
      case 'message_status':
        if (COUNTED_STATUSES.has(String(p.status))) message(p.status);
        break;
    }
  }
}
