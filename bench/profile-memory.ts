/**
 * Loads N profiles (10 traits, 5 tags) into the embedded memory store and into a Redis store, and
 * prints {"rssMb", "redisBytes"}: this process's peak RSS once they are loaded, and Redis bytes per profile.
 * Run by bench/ingest.ts with --expose-gc.
 */
import { Redis } from 'ioredis';
import { MemoryStore } from '../engine/adapters/stores/memory.ts';
import { RedisStore } from '../engine/adapters/stores/redis.ts';
import type { ProfileCommit } from '../ports/store.ts';
import { REDIS_URL, removeKeys, uniquePrefix } from '../dev/processes.ts';
import { parseBatch } from '../engine/ingest/parse.ts';
import { toStoredEvent } from '../profiles/apply.ts';
import { generateStream } from '../fixtures/generate.ts';
import { loadProfiles, makeProfile } from '../dev/profiles.ts';

const n = Number(process.argv[2] ?? 100_000);
const options = { eventRetentionMs: 90 * 86_400_000, dedupeHorizonMs: 30 * 86_400_000 };

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const memory = new MemoryStore(options);
await memory.init();
await loadProfiles(memory, n);
gc();
// Peak resident set size of this process so far (KB), with the profiles loaded.
const rssMb = process.resourceUsage().maxRSS / 1024;
await memory.close();

const prefix = uniquePrefix('bench-mem');
const redis = new Redis(REDIS_URL);
const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
const before = await used();
const store = new RedisStore({ ...options, redis, prefix: `${prefix}:` });
await store.init();
await loadProfiles(store, n);
const redisBytes = ((await used()) - before) / n;

// Events: the generated stream's messages as stored events (history entry + dedupe marker), on the
// profiles above; version conflicts are irrelevant here, so each user is committed once per chunk.
const events = [...generateStream({ users: 2000, days: 30, seed: 'bench-mem', start: '2026-10-01' })].slice(
  0,
  20_000,
);
const messages = parseBatch({ batch: events }, Date.parse('2026-11-01T00:00:00Z'));
const beforeEvents = await used();
const profiles = await store.getProfiles(messages.map((m) => `u:${m.userId ?? m.anonymousId}`));
const byKey = new Map<string, ProfileCommit>();
for (const m of messages) {
  const key = `u:${m.userId ?? m.anonymousId}`;
  let commit = byKey.get(key);
  if (!commit) {
    const current = profiles.get(key);
    const profile = current ?? makeProfile(key, { version: 0 });
    commit = {
      key,
      expectedVersion: profile.version,
      profile: { ...profile, version: profile.version + 1 },
      events: [],
      messageIds: [],
    };
    byKey.set(key, commit);
  }
  commit.events.push(toStoredEvent(m, { lateGraceMs: 86_400_000 * 365 }));
  commit.messageIds.push(m.messageId);
}
await store.commit([...byKey.values()]);
const redisEventBytes = ((await used()) - beforeEvents - byKey.size * redisBytes) / messages.length;
await removeKeys(prefix);
await redis.quit();
process.stdout.write(`${JSON.stringify({ rssMb, redisBytes, redisEventBytes })}\n`);
