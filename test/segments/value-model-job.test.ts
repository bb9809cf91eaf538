import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { startWorker } from '../../engine/worker.ts';
import { sendsTo } from '../helpers/sends.ts';
import { silentLogger } from '../../ports/logger.ts';
import { VALUE_MODEL_JOB, VALUE_MODEL_QUEUE, VALUE_MODEL_SCHEDULE } from '../../engine/jobs/value-model.ts';
import { validateValueModel, type ValueModelConfig } from '../../segments/value-model-config.ts';
import { Workspace } from '../../workspace/workspace.ts';

const DAY = 86_400_000;
// 2026-03-01 12:00 in Shanghai.
const T0 = Date.parse('2026-03-01T04:00:00Z');

it('recomputes value tiers and RFM at 03:00 Shanghai time and writes them as traits and tags', async () => {
  const model: ValueModelConfig = {
    id: 'value-model',
    version: 1,
    schedule: { cron: '0 3 * * *', tz: 'Asia/Shanghai' },
    orderEvent: 'order_paid',
    amountProperty: 'amount',
    window: 'P365D',
  };
  assert.deepEqual(validateValueModel(model), []);
  const clock = new VirtualClock(T0);
  const scheduler = new InProcessScheduler({ clock });
  const store = new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
  await store.init();
  const workspace = new Workspace({ valueModel: model });
  startWorker(
    scheduler,
    store,
    { lateGraceMs: DAY, concurrency: 2, workspace: () => workspace, now: () => clock.now(), ...sendsTo() },
    silentLogger,
  );
  await scheduler.repeat(VALUE_MODEL_QUEUE, VALUE_MODEL_SCHEDULE, model.schedule, VALUE_MODEL_JOB, {});

  // Three buyers (spend 100, 300, 900) and one browser; an old order outside the window counts for nothing.
  const order = (userId: string, n: number, amount: number, at: number) => ({
    type: 'track',
    userId,
    event: 'order_paid',
    messageId: `${userId}-${n}`,
    properties: { orderId: `${userId}-${n}`, amount },
    timestamp: new Date(at).toISOString(),
  });
  const batch = [
    order('low', 1, 100, T0 - 100 * DAY),
    order('mid', 1, 300, T0 - 10 * DAY),
    order('high', 1, 400, T0 - 2 * DAY),
    order('high', 2, 500, T0 - DAY),
    order('old', 1, 5000, T0 - 400 * DAY),
    {
      type: 'track',
      userId: 'browser',
      event: 'product_viewed',
      timestamp: new Date(T0 - DAY).toISOString(),
    },
  ];
  await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: parseBatch({ batch }, T0 + 1) });
  await clock.advance(0);
  const traits = async (id: string) => (await store.getProfiles([`u:${id}`])).get(`u:${id}`)!;
  assert.equal((await traits('high')).traits.value_tier, undefined, 'nothing before the schedule fires');

  // 03:00 in Shanghai on 2 March is 19:00 UTC on 1 March.
  await clock.advanceTo(Date.parse('2026-03-01T19:00:01Z'));
  const high = await traits('high');
  assert.deepEqual(
    {
      r: high.traits.rfm_r,
      f: high.traits.rfm_f,
      m: high.traits.rfm_m,
      tier: high.traits.value_tier,
      group: high.traits.rfm_group,
    },
    { r: 3, f: 3, m: 3, tier: 'high', group: 'important_value' },
  );
  assert.ok(high.tags.includes('value:high') && high.tags.includes('rfm:important_value'));
  assert.equal((await traits('mid')).traits.value_tier, 'medium');
  assert.equal((await traits('low')).traits.value_tier, 'low');
  assert.equal((await traits('low')).traits.rfm_group, 'general_winback');
  for (const id of ['old', 'browser']) {
    const p = await traits(id);
    assert.equal(p.traits.value_tier, undefined, `${id} has no order in the window`);
    assert.deepEqual(
      p.tags.filter((t) => t.startsWith('value:')),
      [],
    );
  }

  // Each tag change is in the user's history once; the next run moves tiers and says so.
  const tagMoves = async (id: string) =>
    (await store.recentEvents(`u:${id}`, 100))
      .filter((e) => e.event === 'tag_added' || e.event === 'tag_removed')
      .map((e) => `${e.event === 'tag_added' ? '+' : '-'}${e.properties?.tag}`)
      .reverse();
  assert.deepEqual(await tagMoves('high'), ['+value:high', '+rfm:important_value']);
  await scheduler.add(INGEST_QUEUE, INGEST_JOB, {
    messages: parseBatch({ batch: [order('mid', 2, 5000, T0 + 2 * DAY)] }, T0 + 2 * DAY),
  });
  await clock.advanceTo(Date.parse('2026-03-03T19:00:01Z'));
  assert.equal((await traits('mid')).traits.value_tier, 'high');
  assert.equal((await traits('high')).traits.value_tier, 'medium');
  // 900 is now below the mean spend (2,100): recent, frequent, low spend is "general value".
  assert.deepEqual((await tagMoves('high')).slice(2), [
    '-rfm:important_value',
    '-value:high',
    '+value:medium',
    '+rfm:general_value',
  ]);
  await scheduler.close();
  await store.close();
});
