import { removeKeys as removeKeysOn } from '../../dev/processes.ts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import type { ProfilePage } from '../../ports/store.ts';
import { makeProfile } from '../../dev/profiles.ts';
import { CONFORMANCE_OPTIONS, storeConformance } from './conformance.ts';
import { redisTraces } from '../helpers/traces.ts';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const runPrefix = `tltest:${randomBytes(6).toString('hex')}:`;
let stores = 0;

/** Deletes the keys under `prefix`, and only those. */
const removeKeys = async (prefix: string): Promise<void> => void (await removeKeysOn(prefix, redis));

after(async () => {
  await removeKeys(runPrefix);
  await redis.quit();
});

storeConformance('redis', async (options) => {
  const prefix = `${runPrefix}${++stores}:`;
  return {
    store: new RedisStore({ ...options, redis, prefix }),
    cleanup: () => removeKeys(prefix),
    traces: (needles) => redisTraces(redis, needles),
  };
});

describe('redis store scan index', () => {
  it('is rebuilt by init() for profiles written before it existed, and only for those that exist', async () => {
    const prefix = `${runPrefix}reindex:`;
    const first = new RedisStore({ ...CONFORMANCE_OPTIONS, redis, prefix });
    await first.init();
    const keys = Array.from({ length: 2500 }, (_, i) => `u:old-${i}`);
    for (let i = 0; i < keys.length; i += 500) {
      await first.commit(
        keys.slice(i, i + 500).map((key) => ({
          key,
          expectedVersion: 0,
          profile: makeProfile(key),
          events: [],
          messageIds: [],
        })),
      );
    }
    await first.eraseProfile(keys[0]);
    // As an older version left it: profiles, no index.
    await redis.del(`${prefix}keys`);
    const empty = await first.scanProfiles(null, 10);
    assert.deepEqual(empty, { profiles: [], cursor: null });

    const second = new RedisStore({ ...CONFORMANCE_OPTIONS, redis, prefix });
    await second.init();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ProfilePage = await second.scanProfiles(cursor, 333);
      seen.push(...page.profiles.map((p) => p.key));
      cursor = page.cursor;
    } while (cursor !== null);
    assert.deepEqual(seen, keys.slice(1).sort());
    assert.equal(await redis.zcard(`${prefix}keys`), keys.length - 1);
    // A rebuilt index is kept like any other.
    await second.eraseProfile(keys[1]);
    assert.equal(await redis.zcard(`${prefix}keys`), keys.length - 2);
    await removeKeys(prefix);
  });
});

describe('redis store due index', () => {
  it('is built by init() for timers written before it existed, once per prefix', async () => {
    const prefix = `${runPrefix}redue:`;
    const first = new RedisStore({ ...CONFORMANCE_OPTIONS, redis, prefix });
    await first.init();
    const keys = Array.from({ length: 1200 }, (_, i) => `u:old-${i}`);
    await first.commit(
      keys.map((key, i) => ({
        key,
        expectedVersion: 0,
        profile: makeProfile(key, { checkAt: i % 4 === 0 ? null : 1000 + (i % 7) }),
        events: [],
        messageIds: [],
      })),
    );
    const expected = await first.dueProfiles(Infinity, 5000);
    assert.equal(expected.length, 900);
    // As an older version left it: timers in the profiles, no index.
    await redis.del(`${prefix}due`, `${prefix}due:built`);
    assert.deepEqual(await first.dueProfiles(Infinity, 10), []);

    const second = new RedisStore({ ...CONFORMANCE_OPTIONS, redis, prefix });
    await second.init();
    assert.deepEqual(await second.dueProfiles(Infinity, 5000), expected);
    assert.equal(await redis.get(`${prefix}due:built`), '1');
    // Built once: a later init does not scan again (an entry removed by hand stays removed).
    await redis.zrem(`${prefix}due`, keys[1]);
    await new RedisStore({ ...CONFORMANCE_OPTIONS, redis, prefix }).init();
    assert.equal((await second.dueProfiles(Infinity, 5000)).length, 899);
    await removeKeys(prefix);
  });
});

describe('redis store memory', () => {
  it('keeps a profile with 10 traits and 5 tags under 1 KB', async () => {
    const prefix = `${runPrefix}memory:`;
    const store = new RedisStore({ ...CONFORMANCE_OPTIONS, redis, prefix });
    await store.init();
    const count = 2000;
    const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    for (let i = 0; i < count; i += 500) {
      const keys = Array.from({ length: 500 }, (_, j) => `u:user-${String(i + j).padStart(7, '0')}`);
      const { conflicts } = await store.commit(
        keys.map((key) => ({
          key,
          expectedVersion: 0,
          profile: makeProfile(key),
          events: [],
          messageIds: [],
        })),
      );
      assert.deepEqual(conflicts, []);
    }
    const delta = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]) - before;
    const usage = Number(await redis.memory('USAGE', `${prefix}p:u:user-0000001`));
    // scanProfiles' index of the keys, shared by all profiles: its part of each.
    const index = Number(await redis.memory('USAGE', `${prefix}keys`, 'SAMPLES', 0)) / count;
    const json = JSON.stringify(makeProfile('u:user-0000001')).length;
    console.log(
      `Redis bytes per profile (10 traits, 5 tags; ${json} bytes as JSON): MEMORY USAGE ${usage} ` +
        `+ ${Math.round(index)} in the scan index, used_memory delta over ${count} profiles ${Math.round(delta / count)}`,
    );
    assert.ok(usage + index < 1024, `MEMORY USAGE ${usage} + ${index} bytes`);

    const started = performance.now();
    let seen = 0;
    let cursor: string | null = null;
    do {
      const page: ProfilePage = await store.scanProfiles(cursor, 500);
      seen += page.profiles.length;
      cursor = page.cursor;
    } while (cursor !== null);
    assert.equal(seen, count);
    console.log(
      `Redis scan of ${count} profiles, pages of 500: ${Math.round(performance.now() - started)} ms`,
    );
    await removeKeys(prefix);
  });
});
