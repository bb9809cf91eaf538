import assert from 'node:assert/strict';
import { it } from 'node:test';
import { readWorkspace } from '../../cli/workspace.ts';
import type { LifecycleConfig } from '../../lifecycle/config.ts';
import { journeyLogOf } from '../../journeys/timeline.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import type { TagRuleDefinition } from '../../segments/tag-rule.ts';
import { generateStream, type SegmentMessage } from '../../fixtures/generate.ts';
import { prng } from '../../dev/random.ts';
import { journeyEngine } from './helpers.ts';

const WINDOW = 2000;

/** Replays messages in the given arrival order, `batch` per batch, the clock following the newest. */
async function replay(messages: readonly SegmentMessage[], batch: number) {
  const { docs } = await readWorkspace('fixtures/workspace');
  const first = Date.parse(String(messages[0].timestamp));
  const e = await journeyEngine(
    {
      segments: (docs.get('segment') ?? []) as unknown as SegmentDefinition[],
      tagRules: (docs.get('tagRule') ?? []) as unknown as TagRuleDefinition[],
      lifecycle: docs.get('lifecycle')?.[0] as unknown as LifecycleConfig,
      journeys: (docs.get('journey') ?? []) as unknown as JourneyDefinition[],
    },
    first,
  );
  let newest = first;
  for (let i = 0; i < messages.length; i += batch) {
    const chunk = messages.slice(i, i + batch);
    for (const m of chunk) newest = Math.max(newest, Date.parse(String(m.timestamp)));
    await e.clock.advanceTo(Math.max(e.clock.now(), newest));
    await e.send(chunk);
  }
  await e.clock.advanceTo(newest + 8 * 86_400_000);
  // What happened to each user in each journey, without the times: the outcome.
  const outcomes = new Map<string, string[]>();
  let cursor: string | null = null;
  do {
    const page = await e.store.scanProfiles(cursor, 500);
    for (const profile of page.profiles) {
      const log = journeyLogOf(await e.store.recentEvents(profile.key, 100_000));
      outcomes.set(
        profile.key,
        log
          .filter((l) => l.event !== 'journey_step' || l.properties?.action === 'branch')
          .map((l) => {
            const p = l.properties ?? {};
            return `${p.journeyId} ${l.event} ${p.step} ${p.reason ?? p.template ?? p.taken ?? ''}`;
          })
          // Journeys interleave differently when events cross; within a journey the order must hold.
          .sort((a, b) =>
            a.split(' ')[0] < b.split(' ')[0] ? -1 : a.split(' ')[0] > b.split(' ')[0] ? 1 : 0,
          ),
      );
    }
    cursor = page.cursor;
  } while (cursor !== null);
  await e.close();
  return outcomes;
}

it('the same stream shuffled within 2-second windows gives the same journey outcomes', async () => {
  const messages = [...generateStream({ users: 80, days: 21, seed: 11, start: '2026-10-20' })];
  const random = prng(2);
  const windows = new Map<number, SegmentMessage[]>();
  for (const m of messages) {
    const w = Math.floor(Date.parse(String(m.timestamp)) / WINDOW);
    windows.set(w, [...(windows.get(w) ?? []), m]);
  }
  const shuffled = [...windows.values()].flatMap((group) =>
    group
      .map((m) => ({ m, r: random() }))
      .sort((a, b) => a.r - b.r)
      .map(({ m }) => m),
  );
  const moved = shuffled.filter((m, i) => m !== messages[i]).length;
  assert.ok(moved > 50, `${moved} messages arrive out of order`);

  // One message per batch both times: a batch spanning minutes would let decisions see later events.
  const inOrder = await replay(messages, 1);
  const outOfOrder = await replay(shuffled, 1);
  const entries = [...inOrder.values()].flat().filter((l) => l.includes('journey_entered')).length;
  assert.ok(entries > 50, `${entries} enrollments`);
  for (const [key, outcome] of inOrder) assert.deepEqual(outOfOrder.get(key), outcome, key);
});
