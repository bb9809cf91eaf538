/**
 * A visitor's call that lands on the visitor's profile after another worker has already folded that
 * profile into its user (the call was routed before the link was visible): the batch folds the
 * orphan in after its commit. These tests lose that step to an error, as a failover can, and check
 * that the retried job still folds it, on the memory store and on Redis.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { removeKeys, uniquePrefix } from '../../dev/processes.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import { applyBatch } from '../../engine/ingest/apply-batch.ts';
import type { InboundMessage } from '../../model/events.ts';
import type { Store } from '../../ports/store.ts';
import { CONFORMANCE_OPTIONS } from '../stores/conformance.ts';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) await removeKeys(prefix, redis);
  await redis.quit();
});

const stores: [string, () => Store][] = [
  ['memory', () => new MemoryStore(CONFORMANCE_OPTIONS)],
  [
    'redis',
    () => {
      const prefix = `${uniquePrefix('race')}:`;
      prefixes.push(prefix);
      return new RedisStore({ ...CONFORMANCE_OPTIONS, redis, prefix });
    },
  ],
];

/**
 * The store as the late worker saw it: the link not yet visible when it routed the call, and the
 * connection lost right after its commit.
 */
function lateWorkerView(store: Store): Store {
  let aliasReads = 0;
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'getAliases')
        return async () => {
          aliasReads++;
          if (aliasReads === 1) return new Map<string, string>();
          throw new Error('connection lost');
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

for (const [name, open] of stores) {
  describe(`a visitor's call landing after their profile was folded in (${name})`, () => {
    it('is folded into the user when the job is retried after losing the fold, and counted once', async () => {
      const store = open();
      await store.init();
      const now = Date.now();
      const call = (messageId: string, at: number, fields: Partial<InboundMessage>): InboundMessage => ({
        type: 'track',
        messageId,
        timestamp: at,
        receivedAt: now,
        ...fields,
      });
      const options = { lateGraceMs: 86_400_000, now: () => now };
      const identify = call('m1', now - 2_000, {
        type: 'identify',
        userId: 'ann',
        anonymousId: 'visitor-1',
        traits: {},
      });
      const page = call('m2', now - 1_000, { type: 'page', anonymousId: 'visitor-1', name: 'home' });
      await applyBatch(store, [identify], options);

      await assert.rejects(applyBatch(lateWorkerView(store), [page], options), /connection lost/);
      assert.ok((await store.getProfiles(['a:visitor-1'])).has('a:visitor-1'), 'the orphan was written');

      // The queue runs the job again.
      await applyBatch(store, [page], options);
      const profiles = await store.getProfiles(['a:visitor-1', 'u:ann']);
      assert.deepEqual([...profiles.keys()], ['u:ann']);
      assert.equal(profiles.get('u:ann')?.eventCount, 2);
      const stored = (await store.recentEvents('u:ann', 100)).filter((e) => e.type !== 'internal');
      assert.deepEqual(stored.map((e) => e.messageId).sort(), ['m1', 'm2']);
      assert.deepEqual(await store.recentEvents('a:visitor-1', 100), []);
    });
  });
}
