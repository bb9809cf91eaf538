import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { Redis } from 'ioredis';
import { RedisChannelState } from '../../engine/adapters/channel-state/redis.ts';
import { channelStateConformance } from './conformance.ts';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const runPrefix = `tltest:${randomBytes(6).toString('hex')}`;
let states = 0;

async function removeKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

after(async () => {
  await removeKeys(runPrefix);
  await redis.quit();
});

channelStateConformance('redis', async () => {
  const prefix = `${runPrefix}:${++states}`;
  return { state: new RedisChannelState(redis, prefix), cleanup: () => removeKeys(prefix) };
});
