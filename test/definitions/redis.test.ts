import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisDefinitionStore } from '../../engine/adapters/definitions/redis.ts';
import { definitionsConformance } from './conformance.ts';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const runPrefix = `tltest:${randomBytes(6).toString('hex')}:`;
let stores = 0;

/** The keys under `prefix`, and only those. */
async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

async function removeKeys(prefix: string): Promise<void> {
  const keys = await keysUnder(prefix);
  if (keys.length > 0) await redis.del(...keys);
}

after(async () => {
  await removeKeys(runPrefix);
  await redis.quit();
});

definitionsConformance('redis', async () => {
  const prefix = `${runPrefix}${++stores}:`;
  return { store: new RedisDefinitionStore({ redis, prefix }), cleanup: () => removeKeys(prefix) };
});

describe('redis definitions layout', () => {
  it('keeps one hash per definition and one id set per kind, all under the prefix', async () => {
    const prefix = `${runPrefix}layout:`;
    const store = new RedisDefinitionStore({ redis, prefix });
    await store.init();
    await store.saveDraft('segment', 'high_value', { rule: 'a' }, 1);
    await store.publish('segment', 'high_value', 1, 2);
    await store.saveDraft('segment', 'high_value', { rule: 'b' }, 3);
    assert.deepEqual((await keysUnder(prefix)).sort(), [
      `${prefix}def:segment:high_value`,
      `${prefix}defs:segment`,
    ]);
    assert.equal(await redis.hlen(`${prefix}def:segment:high_value`), 2);
    await removeKeys(prefix);
  });
});
