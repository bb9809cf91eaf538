import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import type { StoredEvent } from '../../model/events.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { startWorker } from '../../engine/worker.ts';
import { sendsTo } from '../helpers/sends.ts';
import { silentLogger } from '../../ports/logger.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import { Workspace } from '../../workspace/workspace.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

const segments: SegmentDefinition[] = [
  {
    id: 'recent_buyer',
    version: 1,
    name: 'Ordered in the last 30 days',
    condition: {
      all: [{ fact: 'lastEventAt', params: { event: 'order_paid' }, operator: 'withinLast', value: 'P30D' }],
    },
  },
  {
    id: 'high_value',
    version: 1,
    name: 'Spent 1,000 in 90 days',
    tag: 'high_value',
    condition: {
      all: [
        {
          fact: 'aggregate',
          params: { event: 'order_paid', fn: 'sum', property: 'amount', within: 'P90D' },
          operator: 'greaterThanInclusive',
          value: 1000,
        },
      ],
    },
  },
  {
    id: 'birthday_today',
    version: 1,
    name: 'Birthday today (their time)',
    condition: {
      all: [{ fact: 'profile', path: '$.traits.birthday', operator: 'anniversaryToday', value: true }],
    },
  },
  {
    id: 'birthday_month',
    version: 1,
    name: 'Birthday this month (their time)',
    condition: {
      all: [{ fact: 'profile', path: '$.traits.birthday', operator: 'anniversaryThisMonth', value: true }],
    },
  },
];

it('segments that change with time alone move users on their own timer, each move once', async () => {
  const clock = new VirtualClock(T0);
  const scheduler = new InProcessScheduler({ clock });
  const store = new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
  await store.init();
  const workspace = new Workspace({ segments, timezone: 'UTC' });
  startWorker(
    scheduler,
    store,
    { lateGraceMs: DAY, concurrency: 4, workspace: () => workspace, now: () => clock.now(), ...sendsTo() },
    silentLogger,
  );

  const send = async (batch: object[]) => {
    await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: parseBatch({ batch }, clock.now()) });
    await clock.advance(0);
  };
  const history = async (): Promise<StoredEvent[]> =>
    (await store.recentEvents('u:ana', 1000)).filter((e) => e.type === 'internal').reverse();
  const moves = async () =>
    (await history())
      .filter((e) => e.event.startsWith('segment_'))
      .map((e) => `${e.event}:${e.properties?.segmentId}@${new Date(e.timestamp).toISOString()}`);
  const lifecycleMoves = async () =>
    (await history())
      .filter((e) => e.event === 'lifecycle_changed')
      .map((e) => `${e.properties?.from}>${e.properties?.to}@${new Date(e.timestamp).toISOString()}`);
  const profile = async () => (await store.getProfiles(['u:ana'])).get('u:ana')!;

  await send([
    {
      type: 'identify',
      userId: 'ana',
      traits: { birthday: '1990-03-05', timezone: 'Asia/Shanghai' },
      timestamp: new Date(T0).toISOString(),
    },
    {
      type: 'track',
      userId: 'ana',
      event: 'order_paid',
      properties: { orderId: 'o1', amount: 1200 },
      timestamp: new Date(T0).toISOString(),
    },
  ]);
  assert.deepEqual((await profile()).segments, ['birthday_month', 'high_value', 'recent_buyer']);

  // 5 March starts at 2026-03-04T16:00Z in Shanghai, and ends 24 hours later.
  await clock.advanceTo(Date.parse('2026-03-04T16:30:00Z'));
  assert.deepEqual((await profile()).segments, [
    'birthday_month',
    'birthday_today',
    'high_value',
    'recent_buyer',
  ]);
  await clock.advanceTo(Date.parse('2026-03-05T16:30:00Z'));
  assert.deepEqual((await profile()).segments, ['birthday_month', 'high_value', 'recent_buyer']);

  // The order is more than 30 days old just after T0 + 30 days.
  await clock.advanceTo(T0 + 30 * DAY + 3_600_000);
  assert.deepEqual((await profile()).segments, ['birthday_month', 'high_value']);
  await clock.advanceTo(Date.parse('2026-04-01T00:00:00Z'));
  assert.deepEqual((await profile()).segments, ['high_value']);

  // The order's day bucket leaves the 90-day window at the start of the 91st day after it.
  await clock.advanceTo(T0 + 92 * DAY);
  const p = await profile();
  assert.deepEqual(p.segments, []);
  assert.deepEqual(p.tags, []);

  assert.deepEqual(await moves(), [
    // The identify (birthday) is the first call, the order the second.
    'segment_entered:birthday_month@2026-03-01T10:00:00.000Z',
    'segment_entered:recent_buyer@2026-03-01T10:00:00.000Z',
    'segment_entered:high_value@2026-03-01T10:00:00.000Z',
    'segment_entered:birthday_today@2026-03-04T16:00:00.000Z',
    'segment_exited:birthday_today@2026-03-05T16:00:00.000Z',
    'segment_exited:recent_buyer@2026-03-31T10:00:00.001Z',
    // April starts at 2026-03-31T16:00Z in Shanghai.
    'segment_exited:birthday_month@2026-03-31T16:00:00.000Z',
    'segment_exited:high_value@2026-05-31T00:00:00.000Z',
  ]);
  // The first call was an order (a conversion): active at once; dormant 30 days after the last activity.
  assert.deepEqual(await lifecycleMoves(), [
    'null>active@2026-03-01T10:00:00.000Z',
    'active>dormant@2026-03-31T10:00:00.000Z',
  ]);
  assert.deepEqual((await profile()).lifecycle, { state: 'dormant', since: T0 + 30 * DAY });
  await scheduler.close();
  await store.close();
});
