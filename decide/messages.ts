import type { InboundMessage, StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import { type ApplyOptions, applyMessage, mergeProfile, newProfile } from '../profiles/apply.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { dueWebhooks, type WebhookCall, type WebhookOutcomes } from '../journeys/webhook.ts';
import type { Decision } from './decision.ts';
import { mergeMaterialised, rematerialise, runJourneys, updateForEvent } from './pipeline.ts';
import { updateMembership } from '../segments/moves.ts';
import { advance, markImported } from './timeline.ts';

/** What the commit loop read for one profile's messages. */
export interface MessagesInput {
  key: string;
  userId: string | null;
  /** The stored profile, or none for a new user. */
  current: Profile | undefined;
  /** The messages routed to this profile, in batch order. */
  messages: readonly InboundMessage[];
  /** messageIds already applied (by an earlier batch or another worker). */
  applied: ReadonlySet<string>;
  /** The profile's stored history, when it was kept for another workspace and must be rebuilt. */
  history?: readonly StoredEvent[];
  /** Recent calls of a user who may enter a journey (an awaited or exit event may have come first). */
  recent?: readonly StoredEvent[];
  /** An anonymous profile linked to this user, to fold in, with its history when it must be rebuilt. */
  absorbed?: { profile: Profile; history?: readonly StoredEvent[] };
}

export interface MessagesDecision {
  /** Null when there is nothing to write (every message already applied, nothing to absorb). */
  decision: Decision | null;
  applied: number;
  duplicates: number;
  /** Webhook steps the time line reached and waited at, their answers not given. */
  calls: WebhookCall[];
}

/**
 * The order of one profile's messages on its time line: event time, then identify and alias calls
 * before the others at the same instant, then the order they came in.
 */
function timeLineOrder(messages: readonly InboundMessage[]): InboundMessage[] {
  const identity = (m: InboundMessage) => (m.type === 'identify' || m.type === 'alias' ? 0 : 1);
  return messages
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.timestamp - b.m.timestamp || identity(a.m) - identity(b.m) || a.i - b.i)
    .map(({ m }) => m);
}

/**
 * A profile's messages, taken on the user's time line together with every timer that falls due up
 * to now: each new message (exactly once by messageId) is decided as of its own time, after the
 * timers due before it (a wait that ended, a lifecycle move, a segment running out); lifecycle,
 * segments, tag rules and journeys follow each one. A new or rebuilt profile meets every segment once,
 * and a linked anonymous profile is folded in first. A message stamped before what the user was
 * already decided as of (it arrived late) is decided at that time; none is decided after now.
 * `webhooks`: the answers to the webhook steps this decision reaches, called before it (see
 * engine/ingest/apply-batch.ts); without one, the time line waits at the step for the user's timer.
 * `importUntil`: the messages are history being imported up to then: what they imply is decided
 * silently (no journey reacts, no conversion is credited) and kept flagged `imported`; messages
 * after it, and the time line after it, are live.
 */
export function decideMessages(
  input: MessagesInput,
  context: { workspace?: Workspace; now: number; webhooks?: WebhookOutcomes; importUntil?: number },
  options: ApplyOptions,
): MessagesDecision {
  const { current, history } = input;
  const { workspace, now, webhooks, importUntil } = context;
  // The store hands out a fresh copy per read: it is decided on in place. A new user is known by their
  // user id from their first message that carries it: an anonymous call before it (routed here by an
  // identify later in the batch) is decided as it would have been on the visitor's own profile.
  const profile: Profile = current ?? newProfile(input.key, null);
  const events: StoredEvent[] = [];
  const messageIds: string[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const fresh: InboundMessage[] = [];
  for (const m of timeLineOrder(input.messages)) {
    if (input.applied.has(m.messageId) || seen.has(m.messageId)) {
      duplicates++;
      continue;
    }
    seen.add(m.messageId);
    fresh.push(m);
  }
  if (current && profile.decidedAt === undefined) profile.decidedAt = Math.min(profile.lastSeenAt, now);
  if (importUntil !== undefined)
    profile.importedUntil = Math.max(profile.importedUntil ?? importUntil, importUntil);
  const isImported = (timestamp: number) => timestamp <= (profile.importedUntil ?? Number.NEGATIVE_INFINITY);
  /** When a message stamped `timestamp` is decided: its own time, unless the user's time line is past it. */
  const timeOf = (timestamp: number) => Math.min(Math.max(timestamp, profile.decidedAt ?? timestamp), now);
  const start = fresh.length > 0 ? timeOf(fresh[0].timestamp) : timeOf(now);

  if (workspace) {
    if (history) {
      events.push(...rematerialise(profile, history, start, workspace));
      const cause = {
        messageId: fresh[0]?.messageId ?? `rebuild:${workspace.materialisation}`,
        timestamp: start,
      };
      events.push(...updateMembership(profile, workspace.segments, cause, start, workspace));
    } else if (!current) profile.materialisedFor = workspace.materialisation;
  }
  const calls = new Map<string, WebhookCall>();
  const noteCalls = (at: number) => {
    if (!workspace?.journeys.callsWebhooks) return;
    for (const call of dueWebhooks(profile, workspace.journeys, at))
      if (!webhooks?.has(call.key)) calls.set(call.key, call);
  };
  const reacts = (p: Profile) => workspace !== undefined && (workspace.journeys.size > 0 || !!p.journeys);
  /** The journeys' answer to moves made at `at` (none for imported history). */
  const answer = (p: Profile, moves: StoredEvent[], at: number, imported: boolean) => {
    if (imported) markImported(moves);
    events.push(...moves);
    if (workspace && !imported && moves.length > 0 && reacts(p))
      events.push(...runJourneys(p, [...moves], at, workspace));
  };
  const recent: StoredEvent[] = [...(history ?? input.recent ?? [])];
  if (history && workspace)
    answer(profile, events.splice(0), start, fresh.length > 0 && isImported(fresh[0].timestamp));

  // A linked anonymous visitor is folded in when the call that links them comes on the time line;
  // their own calls before it are decided on their profile, as they would have been on arrival.
  let absorb: Decision['absorb'];
  let visitor: Profile | undefined;
  const visitorRecent: StoredEvent[] = [];
  if (input.absorbed) {
    visitor = input.absorbed.profile;
    if (input.absorbed.history && workspace) {
      visitor = structuredClone(visitor);
      rematerialise(visitor, input.absorbed.history, start, workspace);
    }
    if (importUntil !== undefined)
      visitor.importedUntil = Math.max(visitor.importedUntil ?? importUntil, importUntil);
    absorb = { key: visitor.key, expectedVersion: input.absorbed.profile.version };
  }
  const links = (m: InboundMessage) =>
    (m.type === 'identify' || m.type === 'alias') && m.userId !== undefined;
  // Without a stored visitor, calls of an anonymous id that this batch links, made before the link,
  // start the visitor's profile here.
  if (!visitor) {
    const first = fresh.find(links);
    const id = first?.anonymousId ?? first?.previousId;
    const before = first ? fresh.slice(0, fresh.indexOf(first)) : [];
    if (id !== undefined && before.some((m) => m.userId === undefined && m.anonymousId === id)) {
      visitor = newProfile(`a:${id}`, null);
      if (workspace) visitor.materialisedFor = workspace.materialisation;
      if (importUntil !== undefined) visitor.importedUntil = importUntil;
    }
  }
  const newcomers = new Set<Profile>(current ? [] : [profile]);
  if (visitor && !input.absorbed) newcomers.add(visitor);
  const anonymousId = visitor?.key.slice(2);
  const link = fresh.findIndex(
    (m) => links(m) && (m.anonymousId === anonymousId || m.previousId === anonymousId),
  );
  const fold = (at: number) => {
    if (!visitor) return;
    if (workspace) events.push(...advance(visitor, at - 1, workspace, webhooks));
    mergeProfile(profile, visitor);
    if (visitor.decidedAt !== undefined)
      profile.decidedAt = Math.max(profile.decidedAt ?? visitor.decidedAt, visitor.decidedAt);
    if (!workspace) return;
    const moves = mergeMaterialised(profile, visitor, at, workspace);
    const cause = { messageId: `merge:${visitor.key}`, timestamp: profile.lastSeenAt };
    moves.push(...updateMembership(profile, workspace.segments, cause, at, workspace));
    answer(profile, moves, at, isImported(at));
    visitor = undefined;
  };
  if (link < 0) fold(start);

  /** One message on a profile's time line: the timers due before it, the message, what follows from it. */
  const take = (p: Profile, m: InboundMessage, seenCalls: StoredEvent[]) => {
    const at = Math.min(Math.max(m.timestamp, p.decidedAt ?? m.timestamp), now);
    // Timers due before this message fire first; one due at its very instant fires after it.
    if (workspace) events.push(...advance(p, at - 1, workspace, webhooks));
    const event = applyMessage(p, m, options);
    const imported = m.timestamp <= (p.importedUntil ?? Number.NEGATIVE_INFINITY);
    if (imported) event.imported = true;
    p.decidedAt = Math.max(p.decidedAt ?? at, at);
    events.push(event);
    messageIds.push(m.messageId);
    if (!workspace) return at;
    const raised = updateForEvent(p, event, at, workspace);
    // A new profile meets every segment once: one that holds without any of the user's events
    // ("never ordered"), or that was just published, is otherwise never evaluated.
    if (newcomers.delete(p)) {
      raised.push(
        ...updateMembership(p, workspace.segmentsForNewProfile([event.event]), event, at, workspace),
      );
    }
    if (imported) markImported(raised);
    events.push(...raised);
    if (!imported && reacts(p)) events.push(...runJourneys(p, [event, ...raised], at, workspace, seenCalls));
    seenCalls.push(event);
    return at;
  };
  fresh.forEach((m, i) => {
    const onVisitor =
      visitor !== undefined && i < link && m.userId === undefined && m.anonymousId === anonymousId;
    const at = take(onVisitor ? visitor! : profile, m, onVisitor ? visitorRecent : recent);
    if (i === link) fold(at);
    if (!onVisitor) noteCalls(at);
  });
  if (input.userId !== null && profile.key === `u:${input.userId}`) profile.userId ??= input.userId;
  if (workspace && (messageIds.length > 0 || absorb))
    events.push(...advance(profile, now, workspace, webhooks));
  noteCalls(now);
  const result = { applied: messageIds.length, duplicates, calls: [...calls.values()] };
  if (messageIds.length === 0 && !absorb) return { ...result, decision: null };
  return {
    ...result,
    decision: {
      profile,
      events,
      messageIds,
      changed: true,
      recent: history ?? input.recent ?? [],
      ...(absorb ? { absorb } : {}),
    },
  };
}
