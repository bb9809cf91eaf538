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
import { readCounterDays } from '../../conversions/counters.ts';

const WINDOW = 2000;

/**
 * Replays messages in the given arrival order, `batch` per batch (or, with a function, in the
 * batches it cuts), the clock following the newest.
 */
async function replay(messages: readonly SegmentMessage[], batch: number | ((m: SegmentMessage) => number)) {
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
  const chunks: SegmentMessage[][] = [];
  if (typeof batch === 'number')
    for (let i = 0; i < messages.length; i += batch) chunks.push(messages.slice(i, i + batch));
  else {
    const cut = new Map<number, SegmentMessage[]>();
    for (const m of messages) cut.set(batch(m), [...(cut.get(batch(m)) ?? []), m]);
    chunks.push(...cut.values());
  }
  for (const chunk of chunks) {
    for (const m of chunk) newest = Math.max(newest, Date.parse(String(m.timestamp)));
    // Timers due before the request fire first (one due at its newest instant, after it); cut in
    // windows, the timers due meanwhile run after it, as in the arrival differential test.
    if (typeof batch === 'number') await e.clock.advanceTo(Math.max(e.clock.now(), newest - 1));
    e.clock.jumpTo(newest);
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
  // Conversions, orders and revenue per journey and group (treatment, holdout), whatever the day.
  const conversions: Record<string, number> = {};
  for (const journey of e.workspace().journeys.live)
    for (const day of await readCounterDays(e.store, journey.id, first, newest + 8 * 86_400_000))
      for (const [field, n] of day) {
        const [metric, , group] = field.split('|');
        if (!['c', 'o', 're'].includes(metric) || n === 0) continue;
        const name = `${journey.id} ${metric} ${group}`;
        conversions[name] = (conversions[name] ?? 0) + n;
      }
  await e.close();
  return { outcomes, conversions };
}

/** The stream with each message moved at random within windows of `windowMs` (arrival order only). */
function shuffled(messages: readonly SegmentMessage[], windowMs: number, seed: number): SegmentMessage[] {
  const random = prng(seed);
  const windows = new Map<number, SegmentMessage[]>();
  for (const m of messages) {
    const w = Math.floor(Date.parse(String(m.timestamp)) / windowMs);
    windows.set(w, [...(windows.get(w) ?? []), m]);
  }
  return [...windows.values()].flatMap((group) =>
    group
      .map((m) => ({ m, r: random() }))
      .sort((a, b) => a.r - b.r)
      .map(({ m }) => m),
  );
}

it('the same stream shuffled within 2-second windows gives the same journey outcomes', async () => {
  const messages = [...generateStream({ users: 80, days: 21, seed: 11, start: '2026-10-20' })];
  const arrival = shuffled(messages, WINDOW, 2);
  const moved = arrival.filter((m, i) => m !== messages[i]).length;
  assert.ok(moved > 50, `${moved} messages arrive out of order`);

  // One message per batch both times: a batch spanning minutes would let decisions see later events.
  const inOrder = (await replay(messages, 1)).outcomes;
  const outOfOrder = (await replay(arrival, 1)).outcomes;
  const entries = [...inOrder.values()].flat().filter((l) => l.includes('journey_entered')).length;
  assert.ok(entries > 50, `${entries} enrollments`);
  for (const [key, outcome] of inOrder) assert.deepEqual(outOfOrder.get(key), outcome, key);
});

it('an hour of the stream posted at a time, in any order inside it, gives the same outcomes, conversions and revenue', async () => {
  const HOUR = 3_600_000;
  const messages = [...generateStream({ users: 80, days: 21, seed: 11, start: '2026-10-20' })];
  const arrival = shuffled(messages, HOUR, 3);
  const moved = arrival.filter((m, i) => m !== messages[i]).length;
  assert.ok(moved > 500, `${moved} messages arrive out of order`);
  const inOrder = await replay(messages, 1);
  // Each hour's messages in one request, shuffled, posted when its newest happened (inside the grace).
  const hourly = await replay(arrival, (m) => Math.floor(Date.parse(String(m.timestamp)) / HOUR));
  assert.ok(
    Object.keys(inOrder.conversions).some((k) => k.includes(' re ')),
    `revenue is counted: ${JSON.stringify(inOrder.conversions)}`,
  );
  for (const [key, outcome] of inOrder.outcomes) assert.deepEqual(hourly.outcomes.get(key), outcome, key);
  assert.deepEqual(hourly.conversions, inOrder.conversions);
});
