import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { startWorker } from '../../engine/worker.ts';
import { sendsTo } from '../helpers/sends.ts';
import { type LifecycleConfig, validateLifecycleConfig } from '../../lifecycle/config.ts';
import { silentLogger } from '../../ports/logger.ts';
import { Workspace } from '../../workspace/workspace.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-05T08:00:00Z');
const day = (n: number) => new Date(T0 + n * DAY).toISOString();

it('on a virtual clock, a user moves new, active, dormant, reactivated, active, dormant, churned, each move once', async () => {
  const raw: unknown = JSON.parse(
    readFileSync(new URL('../../fixtures/workspace/lifecycle.json', import.meta.url), 'utf8'),
  );
  const { config, faults } = validateLifecycleConfig(raw);
  assert.deepEqual(faults, []);
  const clock = new VirtualClock(T0);
  const scheduler = new InProcessScheduler({ clock });
  const store = new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
  await store.init();
  const workspace = new Workspace({ lifecycle: config as LifecycleConfig });
  startWorker(
    scheduler,
    store,
    { lateGraceMs: DAY, concurrency: 2, workspace: () => workspace, now: () => clock.now(), ...sendsTo() },
    silentLogger,
  );

  /** Sends one call at day n (the clock moves there first, timers firing on the way). */
  const at = async (n: number, call: object) => {
    await clock.advanceTo(T0 + n * DAY);
    await scheduler.add(INGEST_QUEUE, INGEST_JOB, {
      messages: parseBatch({ batch: [{ userId: 'lee', timestamp: day(n), ...call }] }, clock.now()),
    });
    await clock.advance(0);
  };
  const moves = async () =>
    (await store.recentEvents('u:lee', 1000))
      .filter((e) => e.event === 'lifecycle_changed')
      .reverse()
      .map((e) => `${e.properties?.from}>${e.properties?.to}@${Math.round((e.timestamp - T0) / DAY)}`);

  await at(0, { type: 'page', name: 'Home' });
  await at(2, { type: 'track', event: 'order_paid', properties: { orderId: 'o1', amount: 10 } });
  await at(50, { type: 'page', name: 'Home' }); // back after going dormant on day 32
  await at(60, { type: 'track', event: 'product_viewed', properties: { productId: 'p1' } });
  await clock.advanceTo(T0 + 200 * DAY);

  // 30 days of quiet make a user dormant, 90 churned; a return is reactivated for 14 days.
  assert.deepEqual(await moves(), [
    'null>new@0',
    'new>active@2',
    'active>dormant@32',
    'dormant>reactivated@50',
    'reactivated>active@64',
    'active>dormant@90',
    'dormant>churned@150',
  ]);
  const lee = (await store.getProfiles(['u:lee'])).get('u:lee')!;
  assert.deepEqual(lee.lifecycle, { state: 'churned', since: T0 + 150 * DAY });
  assert.equal(lee.checkAt ?? null, null, 'a churned user with no activity needs no timer');
  await scheduler.close();
  await store.close();
});
