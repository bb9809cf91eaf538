import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import { profileContext } from './context.ts';
import { type CompiledSegment, evaluateMembership } from './membership.ts';

/** What moving a user between segments reads of the workspace. */
export interface SegmentScope {
  /** Day boundaries for users without a timezone. */
  timezone: string;
  /** Segments reading tags or segments: evaluated again when another segment moves the user. */
  tagReadingSegments: readonly CompiledSegment[];
}

function internalEvent(
  name: 'segment_entered' | 'segment_exited',
  segment: { id: string; version: number },
  cause: Pick<StoredEvent, 'messageId' | 'timestamp'>,
  now: number,
): StoredEvent {
  return {
    // Deterministic: re-deciding the same event (a retried commit) names the same internal event.
    messageId: `${name}:${segment.id}:${segment.version}:${cause.messageId}`,
    type: 'internal',
    event: name,
    properties: {
      segmentId: segment.id,
      version: segment.version,
      cause: cause.messageId,
      causedAt: new Date(cause.timestamp).toISOString(),
    },
    // When the engine decided: events arriving out of order would otherwise give a history whose
    // entries and exits do not alternate in time. The event that caused it is in `causedAt`.
    timestamp: now,
    receivedAt: now,
  };
}

/** Re-evaluates `candidates` for the profile; applies segment tags; returns the enter/exit events. */
export function updateMembership(
  profile: Profile,
  candidates: readonly CompiledSegment[],
  cause: Pick<StoredEvent, 'messageId' | 'timestamp'>,
  now: number,
  workspace: SegmentScope,
): StoredEvent[] {
  const raised: StoredEvent[] = [];
  let round = candidates;
  // Segments reading tags or segments see the changes of the round before, until nothing moves
  // (bounded: definitions that contradict each other would otherwise flip for ever).
  for (let pass = 0; pass < MAX_PASSES && round.length > 0; pass++) {
    const moved = evaluateRound(profile, round, cause, now, workspace, raised);
    round = moved ? workspace.tagReadingSegments : [];
  }
  return raised;
}

const MAX_PASSES = 4;

function evaluateRound(
  profile: Profile,
  candidates: readonly CompiledSegment[],
  cause: Pick<StoredEvent, 'messageId' | 'timestamp'>,
  now: number,
  workspace: SegmentScope,
  raised: StoredEvent[],
): boolean {
  const change = evaluateMembership(
    profile.segments,
    candidates,
    profileContext(profile, now, { timezone: workspace.timezone }),
  );
  if (change.entered.length === 0 && change.exited.length === 0) return false;
  profile.segments = change.segments;
  const byId = new Map(candidates.map((s) => [s.id, s]));
  for (const id of change.entered) {
    const segment = byId.get(id)!;
    if (segment.tag && !profile.tags.includes(segment.tag))
      profile.tags = [...profile.tags, segment.tag].sort();
    raised.push(internalEvent('segment_entered', segment, cause, now));
  }
  for (const id of change.exited) {
    const segment = byId.get(id)!;
    if (segment.tag) profile.tags = profile.tags.filter((t) => t !== segment.tag);
    raised.push(internalEvent('segment_exited', segment, cause, now));
  }
  return true;
}
