/**
 * The invariant: decisions are a function of the events and their times, not of how they arrive.
 * A generated stream over a workspace with every trigger and step kind is delivered four ways on a
 * virtual clock through the real ingestion path (parse, queue, worker, store):
 *   (a) one message at a time, each when it happened, as the simulator replays a stream;
 *   (b) in batches of 1 to 500 messages, each posted when its last message happened, the timers due
 *       meanwhile running after it (as behind a worker that lags);
 *   (c) the whole stream back-filled in one request, with a late grace that covers it;
 *   (d) the batches of (b) through the API's ingest buffer, split over four queue partitions (linked
 *       calls kept together), with each user's timers in their partition.
 * Each delivery must leave the same decisions (journey entries, steps, sends with their logical
 * times and outcomes, exits, lifecycle and segment moves, tags), the same profiles and the same
 * report counters. On the memory store and on the Redis store. Scheduled work (the value model, a
 * scheduled journey) runs once at the end, at the same instant for every delivery: a firing that
 * came before the events it would have seen cannot be replayed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import { REDIS_URL, removeKeys, uniquePrefix } from '../../dev/processes.ts';
import type { Store } from '../../ports/store.ts';
import {
  backFill,
  type Decided,
  deliver,
  type Delivery,
  generateStream,
  loyaltyService,
  MEMORY_STORE,
  oneByOne,
  randomBatches,
  userKeys,
} from '../helpers/arrival.ts';

const DAY = 86_400_000;
const SEEDS = (process.env.ARRIVAL_SEEDS ?? '11,22,33,44,55').split(',').map(Number);

let loyalty: Awaited<ReturnType<typeof loyaltyService>>;
before(async () => {
  loyalty = await loyaltyService();
});
after(() => loyalty.close());

/** The first difference between two runs, said so that a failure reads. */
function assertSame(label: string, expected: Decided, actual: Decided): void {
  for (const key of new Set([...Object.keys(expected.profiles), ...Object.keys(actual.profiles)])) {
    const e = expected.profiles[key];
    const a = actual.profiles[key];
    assert.ok(e && a, `${label}: ${key} exists in both`);
    const missing = e.events.filter((x) => !a.events.includes(x));
    const extra = a.events.filter((x) => !e.events.includes(x));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${label}: ${key}'s decisions`);
    assert.deepEqual(a.state, e.state, `${label}: ${key}'s profile`);
  }
  assert.deepEqual(actual.counters, expected.counters, `${label}: report counters`);
}

async function runAll(seed: number, store: () => Promise<{ store: Store; done(): Promise<void> }>) {
  const stream = generateStream(seed);
  const keys = userKeys(stream);
  const end = Date.parse(stream.at(-1)!.timestamp) + 10 * DAY;
  const run = async (deliveries: Delivery[], lateGraceMs: number, partitions?: number) => {
    const s = await store();
    try {
      return await deliver({
        store: s.store,
        deliveries,
        end,
        webhookUrl: loyalty.url,
        lateGraceMs,
        keys,
        ...(partitions === undefined ? {} : { partitions }),
      });
    } finally {
      await s.done();
    }
  };
  // A late grace that covers the stream: an event older than the grace drives no journey, by design.
  const grace = 365 * DAY;
  const a = await run(oneByOne(stream), grace);
  const b = await run(randomBatches(stream, seed), grace);
  const c = await run(backFill(stream), grace);
  // Requests split over the queue partitions (linked calls kept together), timers in their users'.
  const d = await run(randomBatches(stream, seed), grace, 4);
  const entered = Object.values(a.profiles).flatMap((p) =>
    p.events.filter((e) => e.includes('"journey_entered"')),
  );
  // The stream must exercise the workspace, or equality means nothing.
  assert.ok(entered.length > 20, `only ${entered.length} journey entries`);
  assertSame('batches', a, b);
  assertSame('back-fill', a, c);
  assertSame('partitioned queues', a, d);
}

describe('the same stream decides the same, however it arrives', () => {
  for (const seed of SEEDS) {
    it(`memory store, seed ${seed}`, async () => {
      await runAll(seed, async () => {
        const store = MEMORY_STORE();
        await store.init();
        return { store, done: () => store.close() };
      });
    });
  }
  for (const seed of SEEDS) {
    it(`Redis store, seed ${seed}`, async () => {
      await runAll(seed, async () => {
        const prefix = uniquePrefix('arrival');
        const redis = new Redis(REDIS_URL);
        const store = new RedisStore({
          redis,
          prefix: `${prefix}:`,
          eventRetentionMs: 400 * DAY,
          dedupeHorizonMs: 400 * DAY,
        });
        await store.init();
        return {
          store,
          async done() {
            await redis.quit();
            await removeKeys(prefix);
          },
        };
      });
    });
  }
});
