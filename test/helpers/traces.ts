import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Redis } from 'ioredis';

/** `what needle` for each needle found in `bytes`. */
function found(where: string, bytes: Buffer, needles: readonly string[]): string[] {
  return needles.filter((n) => bytes.includes(Buffer.from(n))).map((n) => `${where} holds ${n}`);
}

/** Every key of the Redis (not only one prefix), its name and its whole value, searched for the needles. */
export async function redisTraces(redis: Redis, needles: readonly string[]): Promise<string[]> {
  const traces: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const key of keys) {
      const name = key.toString();
      const type = await redis.type(key);
      let parts: Buffer[] = [];
      if (type === 'string') parts = [(await redis.getBuffer(key)) ?? Buffer.alloc(0)];
      else if (type === 'hash') parts = await redis.hgetallBuffer(key).then((h) => flat(h));
      else if (type === 'list') parts = await redis.lrangeBuffer(key, 0, -1);
      else if (type === 'set') parts = await redis.smembersBuffer(key);
      else if (type === 'zset') parts = await redis.zrangeBuffer(key, '0', '-1');
      else if (type === 'stream')
        parts = (await redis.xrangeBuffer(key, '-', '+')).flatMap(([id, fields]) => [id, ...fields]);
      traces.push(...found(`key ${name}`, key, needles));
      traces.push(...found(`the value of ${name}`, Buffer.concat(parts), needles));
    }
  } while (cursor !== '0');
  return traces;
}

function flat(hash: Record<string, Buffer>): Buffer[] {
  return Object.entries(hash).flatMap(([field, value]) => [Buffer.from(field), value]);
}

/** Every file under `dir`, read as bytes, searched for the needles (and every file name). */
export function fileTraces(dir: string, needles: readonly string[]): string[] {
  const traces: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      traces.push(...found(`file name ${relative(dir, full)}`, Buffer.from(entry), needles));
      if (statSync(full).isDirectory()) walk(full);
      else traces.push(...found(`file ${relative(dir, full)}`, readFileSync(full), needles));
    }
  };
  walk(dir);
  return traces;
}
