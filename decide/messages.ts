import type { InboundMessage, StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import { type ApplyOptions, applyMessage, mergeProfile, newProfile } from '../profiles/apply.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { Decision } from './decision.ts';
import { mergeMaterialised, rematerialise, runJourneys, updateForEvent } from './pipeline.ts';
import { updateMembership } from '../segments/moves.ts';

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
}

/**
 * A profile's messages: each new one applied (exactly once by messageId), then segments, tag rules and
 * lifecycle follow each event, a new or rebuilt profile meets every segment once, a linked anonymous
 * profile is folded in, and the journeys react to all of it.
 */
export function decideMessages(
  input: MessagesInput,
  context: { workspace?: Workspace; now: number },
  options: ApplyOptions,
): MessagesDecision {
  const { current, history } = input;
  const { workspace, now } = context;
  // The store hands out a fresh copy per read: it is decided on in place.
  const profile: Profile = current ?? newProfile(input.key, input.userId);
  const events: StoredEvent[] = [];
  const messageIds: string[] = [];
  if (workspace) {
    if (history) events.push(...rematerialise(profile, history, now, workspace));
    else if (!current) profile.materialisedFor = workspace.materialisation;
  }
  const seen = new Set<string>();
  let duplicates = 0;
  for (const m of input.messages) {
    if (input.applied.has(m.messageId) || seen.has(m.messageId)) {
      duplicates++;
      continue;
    }
    seen.add(m.messageId);
    const event = applyMessage(profile, m, options);
    events.push(event);
    if (workspace) events.push(...updateForEvent(profile, event, now, workspace));
    messageIds.push(m.messageId);
  }
  // A new or rebuilt profile is checked against every segment once: one that holds without any of
  // the user's events ("never ordered"), or that was just published, is otherwise never evaluated.
  if (workspace && (!current || history) && events.length > 0) {
    const cause = events.find((e) => e.type !== 'internal') ?? {
      messageId: `rebuild:${workspace.materialisation}`,
      timestamp: now,
    };
    const candidates = history
      ? workspace.segments
      : workspace.segmentsForNewProfile(events.map((e) => e.event));
    events.push(...updateMembership(profile, candidates, cause, now, workspace));
  }
  let absorb: Decision['absorb'];
  if (input.absorbed) {
    let absorbed = input.absorbed.profile;
    if (input.absorbed.history && workspace) {
      absorbed = structuredClone(absorbed);
      rematerialise(absorbed, input.absorbed.history, now, workspace);
    }
    mergeProfile(profile, absorbed);
    if (workspace) {
      events.push(...mergeMaterialised(profile, absorbed, now, workspace));
      const cause = { messageId: `merge:${absorbed.key}`, timestamp: profile.lastSeenAt };
      events.push(...updateMembership(profile, workspace.segments, cause, now, workspace));
    }
    absorb = { key: absorbed.key, expectedVersion: input.absorbed.profile.version };
  }
  const recent = history ?? input.recent ?? [];
  if (workspace && (workspace.journeys.size > 0 || profile.journeys))
    events.push(...runJourneys(profile, events, now, workspace, recent));
  const result = { applied: messageIds.length, duplicates };
  if (messageIds.length === 0 && !absorb) return { ...result, decision: null };
  return {
    ...result,
    decision: { profile, events, messageIds, changed: true, recent, ...(absorb ? { absorb } : {}) },
  };
}
