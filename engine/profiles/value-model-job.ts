import { parseDurationMs } from '../../rules/durations.ts';
import { type BuyerFigures, scoreBuyers, type ValueScores } from '../../segments/value-model.ts';
import type { Workspace } from '../../segments/workspace.ts';
import { HISTORY_LIMIT } from '../ingest/apply-batch.ts';
import type { Json } from '../json.ts';
import type { Logger } from '../ports/logger.ts';
import type { Store } from '../ports/store.ts';
import type { Profile } from './profile.ts';
import type { StoredEvent } from '../events.ts';
import { updateMembership } from '../../segments/update.ts';

export const VALUE_MODEL_QUEUE = 'value-model';
export const VALUE_MODEL_JOB = 'run';
/** The repeatable schedule's id: one per workspace. */
export const VALUE_MODEL_SCHEDULE = 'value-model';

const PAGE = 500;
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

async function forEachProfile(store: Store, visit: (profile: Profile) => Promise<void>): Promise<void> {
  let cursor: string | null = null;
  do {
    const page = await store.scanProfiles(cursor, PAGE);
    for (const profile of page.profiles) await visit(profile);
    cursor = page.cursor;
  } while (cursor !== null);
}

/**
 * Recomputes value tiers and RFM scores for every user: a first pass reads each
 * profile's orders in the window, a second writes traits (rfm_r, rfm_f, rfm_m, rfm_group,
 * value_tier) and tags (value:<tier>, rfm:<group>).
 */
export async function runValueModel(
  store: Store,
  workspace: Workspace,
  now: number,
  logger: Logger,
): Promise<{ buyers: number; scanned: number; changed: number }> {
  const config = workspace.valueModel;
  if (!config) return { buyers: 0, scanned: 0, changed: 0 };
  const since = now - (parseDurationMs(config.window) ?? 0);
  const figures: BuyerFigures[] = [];
  let scanned = 0;
  await forEachProfile(store, async (profile) => {
    scanned++;
    const orders = (await store.recentEvents(profile.key, HISTORY_LIMIT)).filter(
      (e) =>
        e.type !== 'internal' && e.event === config.orderEvent && e.timestamp >= since && e.timestamp <= now,
    );
    if (orders.length === 0) return;
    const amounts = orders.map((o) => o.properties?.[config.amountProperty]);
    figures.push({
      key: profile.key,
      recency: now - Math.max(...orders.map((o) => o.timestamp)),
      frequency: orders.length,
      monetary: amounts.reduce<number>(
        (sum, a) => sum + (typeof a === 'number' && Number.isFinite(a) ? a : 0),
        0,
      ),
    });
  });
  const scores = scoreBuyers(figures);
  const run = new Date(now).toISOString();
  let changed = 0;
  await forEachProfile(store, async (first) => {
    let current: Profile | undefined = first;
    for (let attempt = 0; current && attempt < 20; attempt++) {
      const profile: Profile = structuredClone(current);
      const applied = applyScores(profile, scores.get(profile.key), run, now);
      if (!applied.changed) return;
      // Segments reading the value tags or traits follow at once.
      const cause = { messageId: `value-model:${run}`, timestamp: now };
      const events = [
        ...applied.events,
        ...updateMembership(profile, workspace.profileReadingSegments, cause, now, workspace),
      ];
      profile.version = current.version + 1;
      const { conflicts } = await store.commit([
        { key: profile.key, expectedVersion: current.version, profile, events, messageIds: [] },
      ]);
      if (conflicts.length === 0) {
        changed++;
        return;
      }
      current = (await store.getProfiles([profile.key])).get(profile.key);
    }
  });
  logger.info({ buyers: figures.length, scanned, changed }, `value model: ${figures.length} buyers scored`);
  return { buyers: figures.length, scanned, changed };
}
