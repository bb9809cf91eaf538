import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { VALUE_MODEL_JOB, VALUE_MODEL_QUEUE } from '../../engine/jobs/value-model.ts';
import { startWorker } from '../../engine/worker.ts';
import { sendsTo } from '../helpers/sends.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import { journeyLogOf } from '../../journeys/timeline.ts';
import type { StoredEvent } from '../../model/events.ts';
import { silentLogger } from '../../ports/logger.ts';
import type { Scheduler } from '../../ports/scheduler.ts';
import type { Store } from '../../ports/store.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import type { ValueModelConfig } from '../../segments/value-model-config.ts';
import { Workspace } from '../../workspace/workspace.ts';
import { redisView } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import { removeKeys, uniquePrefix } from '../../dev/processes.ts';

// A shop's "welcome to VIP": the value model puts its best buyers in tier `high`, the segment `vip`
// reads that tier, and a journey greets whoever enters the segment. A user whose tier comes from an
// identify (a CRM import) enters the same way.
const DAY = 86_400_000;
const T0 = Date.parse('2026-03-02T02:00:00Z');

const valueModel: ValueModelConfig = {
  id: 'value-model',
  version: 1,
  schedule: { cron: '0 3 * * *', tz: 'Asia/Shanghai' },
  orderEvent: 'order_paid',
  amountProperty: 'amount',
  window: 'P365D',
};
const vip: SegmentDefinition = {
  id: 'vip',
  version: 1,
  name: 'VIP',
  condition: { fact: 'profile', path: '$.traits.value_tier', operator: 'equal', value: 'high' },
};
const welcome: JourneyDefinition = {
  id: 'welcome_vip',
  version: 1,
  name: 'Welcome to VIP',
  trigger: { type: 'segment', segment: 'vip', on: 'entered' },
  steps: [{ id: 'note', type: 'send', channel: 'sandbox', template: 'vip_welcome' }],
};
const workspace = new Workspace({
  valueModel,
  segments: [vip],
  journeys: [welcome],
  timezone: 'Asia/Shanghai',
});

const at = (ms: number) => new Date(ms).toISOString();
const order = (userId: string, n: number, amount: number, ms: number) => ({
  type: 'track',
  userId,
  event: 'order_paid',
  messageId: `${userId}-order-${n}`,
  properties: { orderId: `${userId}-${n}`, amount },
  timestamp: at(ms),
});
// Three buyers: the value model ranks `big` high, `small` low; `crm` is made high by an identify.
const stream = (t: number) => [
  order('big', 1, 900, t - 3 * DAY),
  order('big', 2, 800, t - 2 * DAY),
  order('mid', 1, 300, t - 2 * DAY),
  order('small', 1, 20, t - 2 * DAY),
  { type: 'identify', userId: 'crm', traits: { value_tier: 'high' }, timestamp: at(t - DAY) },
];

/** Each user's journey log entries for the VIP journey, as `event step` pairs. */
async function journeyOf(store: Store, userId: string): Promise<string[]> {
  const log: StoredEvent[] = journeyLogOf(await store.recentEvents(`u:${userId}`, 1000));
  return log
    .filter((e) => e.properties?.journeyId === 'welcome_vip')
    .map((e) => `${e.event}${e.properties?.stepId ? ` ${String(e.properties.stepId)}` : ''}`);
}

async function runScenario(
  store: Store,
  scheduler: Scheduler,
  now: () => number,
  settle: (done: () => Promise<boolean>) => Promise<void>,
) {
  startWorker(
    scheduler,
    store,
    { lateGraceMs: 7 * DAY, concurrency: 2, workspace: () => workspace, now, ...sendsTo() },
    silentLogger,
  );
  await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: parseBatch({ batch: stream(now()) }, now()) });
  await settle(async () => (await journeyOf(store, 'crm')).includes('journey_exited'));
  assert.deepEqual(await journeyOf(store, 'big'), [], 'no tier before the value model runs');

  await scheduler.add(VALUE_MODEL_QUEUE, VALUE_MODEL_JOB, {});
  await settle(async () => (await journeyOf(store, 'big')).includes('journey_exited'));

  const big = (await store.getProfiles(['u:big'])).get('u:big')!;
  assert.equal(big.traits.value_tier, 'high');
  assert.ok(big.segments.includes('vip'));
  // The value model's move enrols the user exactly as the identify's did: entered, the message, done.
  const crmLog = await journeyOf(store, 'crm');
  assert.ok(crmLog.includes('journey_entered'), crmLog.join(', '));
  assert.deepEqual(await journeyOf(store, 'big'), crmLog);
  assert.deepEqual(await journeyOf(store, 'small'), [], 'a low tier is not VIP');
}

describe('a value-model run that moves a user into a segment', () => {
  it('enrols them into the journey on that segment, like an identify (virtual clock)', async () => {
    const clock = new VirtualClock(T0);
    const scheduler = new InProcessScheduler({ clock });
    const store = new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
    await store.init();
    try {
      await runScenario(
        store,
        scheduler,
        () => clock.now(),
        async () => {
          await clock.advance(60_000);
        },
      );
    } finally {
      await scheduler.close();
      await store.close();
    }
  });

  it('enrols them into the journey on that segment, like an identify (Redis store, BullMQ)', async () => {
    const prefix = uniquePrefix('vm');
    const { redis, store, queue } = await redisView(prefix);
    try {
      await runScenario(store, queue, Date.now, (done) => waitFor(done, 20_000, 'the VIP journey'));
    } finally {
      await queue.close();
      await redis.quit();
      await removeKeys(prefix);
    }
  });
});
