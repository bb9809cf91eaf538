/**
 * A trigger and its exit event posted together, both older than the journey's first wait: on the
 * user's time line the exit comes five minutes after the trigger, long before the wait ends, so the
 * user leaves then and nothing is sent, although the wait was long over when the batch arrived.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InProcessScheduler } from '../../engine/adapters/schedulers/in-process.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { VirtualClock } from '../../engine/clock.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import { parseBatch } from '../../engine/ingest/parse.ts';
import { startWorker } from '../../engine/worker.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import { journeyLogOf } from '../../journeys/timeline.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import { silentLogger } from '../../ports/logger.ts';
import type { Scheduler } from '../../ports/scheduler.ts';
import type { Store } from '../../ports/store.ts';
import { Workspace } from '../../workspace/workspace.ts';
import { redisView } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import { removeKeys, uniquePrefix } from '../../dev/processes.ts';
import { sendsTo } from '../helpers/sends.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const checkout: JourneyDefinition = {
  id: 'checkout_reminder',
  version: 1,
  name: 'Checkout reminder',
  trigger: { type: 'event', event: 'checkout_started' },
  exit: [{ event: 'cart_cleared' }],
  steps: [
    { id: 'wait', type: 'wait', duration: 'PT30M' },
    { id: 'mail', type: 'send', channel: 'email', template: 'finish_checkout' },
  ],
};
const workspace = new Workspace({ journeys: [checkout], timezone: 'UTC' });

/** A gateway that records every message handed to it. */
function recordingGateway(): ChannelGateway & { handed: string[] } {
  const handed: string[] = [];
  return {
    handed,
    async send({ message }) {
      handed.push(message.messageId);
      return { status: 'sent', provider: 'test', providerId: message.messageId };
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const batch = (now: number) => [
  {
    type: 'identify',
    userId: 'ann',
    traits: { email: 'ann@example.com', consent: { email: true } },
    timestamp: iso(now - 8 * HOUR),
  },
  { type: 'track', userId: 'ann', event: 'checkout_started', timestamp: iso(now - 7 * HOUR) },
  { type: 'track', userId: 'ann', event: 'cart_cleared', timestamp: iso(now - 7 * HOUR + 5 * MINUTE) },
];

async function journeyOf(store: Store): Promise<string[]> {
  return journeyLogOf(await store.recentEvents('u:ann', 100)).map(
    (e) =>
      `${e.event}${e.properties?.reason ? ` ${String(e.properties.reason)}` : ''} ${new Date(e.timestamp).toISOString()}`,
  );
}

async function scenario(
  store: Store,
  scheduler: Scheduler,
  now: () => number,
  settle: (done: () => Promise<boolean>) => Promise<void>,
) {
  const gateway = recordingGateway();
  startWorker(
    scheduler,
    store,
    { lateGraceMs: DAY, concurrency: 2, workspace: () => workspace, now, ...sendsTo(gateway) },
    silentLogger,
  );
  const t = now();
  await scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages: parseBatch({ batch: batch(t) }, t) });
  await settle(async () => (await journeyOf(store)).some((l) => l.startsWith('journey_exited')));
  const trigger = t - 7 * HOUR;
  assert.deepEqual(await journeyOf(store), [
    `journey_entered ${iso(trigger)}`,
    `journey_step ${iso(trigger)}`,
    `journey_exited event:cart_cleared ${iso(trigger + 5 * MINUTE)}`,
  ]);
  // Give a wrongly planned timer every chance to fire.
  await settle(async () => false).catch(() => undefined);
  assert.deepEqual(gateway.handed, [], 'no message is handed to the gateway');
  const profile = (await store.getProfiles(['u:ann'])).get('u:ann');
  assert.equal(profile?.outbox, undefined, 'nothing waits in the outbox');
}

describe('a trigger and its exit in one batch, older than the first wait', () => {
  it('exits at the exit event and sends nothing (memory store, virtual clock)', async () => {
    const clock = new VirtualClock(Date.parse('2026-03-02T12:00:00Z'));
    const scheduler = new InProcessScheduler({ clock });
    const store = new MemoryStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
    await store.init();
    try {
      await scenario(
        store,
        scheduler,
        () => clock.now(),
        async (done) => {
          await clock.advance(HOUR);
          if (!(await done())) throw new Error('not yet');
        },
      );
    } finally {
      await scheduler.close();
      await store.close();
    }
  });

  it('exits at the exit event and sends nothing (Redis store, BullMQ)', async () => {
    const prefix = uniquePrefix('exit');
    const { redis, store, queue } = await redisView(prefix);
    try {
      await scenario(store, queue, Date.now, (done) => waitFor(done, 3_000, 'the exit'));
    } finally {
      await queue.close();
      await redis.quit();
      await removeKeys(prefix);
    }
  });
});
