import type { StoredEvent } from '../model/events.ts';
import type { Json } from '../model/json.ts';
import type { Profile } from '../model/profile.ts';
import type { ValueScores } from '../segments/value-model.ts';
import type { Decision, DecisionContext } from './decision.ts';
import { runJourneys } from './pipeline.ts';
import { updateMembership } from '../segments/moves.ts';

const TRAITS = ['rfm_r', 'rfm_f', 'rfm_m', 'rfm_group', 'value_tier'] as const;
const isModelTag = (tag: string) => tag.startsWith('value:') || tag.startsWith('rfm:');

/**
 * Sets (or, for a user with no order in the window, removes) the value traits and tags. Returns
 * whether anything changed, and a `tag_added` / `tag_removed` event per tag that did.
 */
function applyScores(
  profile: Profile,
  scores: ValueScores | undefined,
  run: string,
  now: number,
): { changed: boolean; events: StoredEvent[] } {
  const wanted: Record<(typeof TRAITS)[number], Json> = scores
    ? { rfm_r: scores.r, rfm_f: scores.f, rfm_m: scores.m, rfm_group: scores.group, value_tier: scores.tier }
    : { rfm_r: null, rfm_f: null, rfm_m: null, rfm_group: null, value_tier: null };
  let changed = false;
  for (const name of TRAITS) {
    const value = wanted[name];
    if ((profile.traits[name] ?? null) === value) continue;
    if (value === null) delete profile.traits[name];
    else profile.traits[name] = value;
    profile.traitTimes[name] = now;
    changed = true;
  }
  const before = new Set(profile.tags.filter(isModelTag));
  const after = new Set(scores ? [`value:${scores.tier}`, `rfm:${scores.group}`] : []);
  const events: StoredEvent[] = [];
  const tagEvent = (name: 'tag_added' | 'tag_removed', tag: string): StoredEvent => ({
    messageId: `${name}:${tag}:value-model:${run}`,
    type: 'internal',
    event: name,
    properties: { tag, source: 'value-model', run },
    timestamp: now,
    receivedAt: now,
  });
  for (const tag of before) if (!after.has(tag)) events.push(tagEvent('tag_removed', tag));
  for (const tag of after) if (!before.has(tag)) events.push(tagEvent('tag_added', tag));
  if (events.length > 0) {
    profile.tags = [...profile.tags.filter((t) => !isModelTag(t)), ...after].sort();
    changed = true;
  }
  return { changed, events };
}

/**
 * A value-model run scored the user (or found no order in its window): value traits and tags are set,
 * segments reading them follow at once, and the journeys meet those moves as they would an identify's.
 * Null when the run changes nothing for this user.
 */
export function decideValueModel(
  profile: Profile,
  scores: ValueScores | undefined,
  run: string,
  { workspace, now }: DecisionContext,
): Decision | null {
  const applied = applyScores(profile, scores, run, now);
  if (!applied.changed) return null;
  const cause = { messageId: `value-model:${run}`, timestamp: now };
  const events = [
    ...applied.events,
    ...updateMembership(profile, workspace.profileReadingSegments, cause, now, workspace),
  ];
  events.push(...runJourneys(profile, [...events], now, workspace));
  return { profile, events, changed: true };
}
