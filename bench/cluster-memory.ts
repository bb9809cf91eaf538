/**
 * Redis memory on a cluster, by `MEMORY USAGE` of every key: loads N profiles (10 traits, 5 tags) into
 * the bucketed layout, then 20,000 events of the demo generator, and prints the bytes per profile and
 * per stored event, by kind of key. On the local cluster (dev/redis-cluster.ts), or REDIS_CLUSTER_NODES'.
 *   node --import tsx bench/cluster-memory.ts [profiles]
 */
import { removeKeys, uniquePrefix } from '../dev/processes.ts';
import { loadProfiles, makeProfile } from '../dev/profiles.ts';
import { localCluster } from '../dev/redis-cluster.ts';
import { connectRedis, scanKeys } from '../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../engine/adapters/redis-slots.ts';
import { RedisStore } from '../engine/adapters/stores/redis.ts';
import { parseBatch } from '../engine/ingest/parse.ts';
import { generateStream } from '../fixtures/generate.ts';
import type { ProfileCommit } from '../ports/store.ts';
import { toStoredEvent } from '../profiles/apply.ts';

const n = Number(process.argv[2] ?? 20_000);
const options = { eventRetentionMs: 90 * 86_400_000, dedupeHorizonMs: 30 * 86_400_000 };
const redis = connectRedis({ clusterNodes: await localCluster() });
const prefix = uniquePrefix('bench-cluster-mem');
const store = new RedisStore({ ...options, redis, prefix: `${prefix}:`, buckets: CLUSTER_BUCKETS });
await store.init();

/** Bytes of every key of the run, by kind (`p`, `h`, `e`, `m`, `keys`, `profiles`, `due`). */
async function usage(): Promise<Record<string, number>> {
  const byKind: Record<string, number> = {};
  await scanKeys(redis, `${prefix}:*`, async (node, keys) => {
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const kind = /\}:([a-z]+)/.exec(key)?.[1] ?? 'other';
      byKind[kind] = (byKind[kind] ?? 0) + Number(replies[i][1]);
    });
  });
  return byKind;
}
const per = (bytes: Record<string, number>, count: number) =>
  Object.fromEntries(Object.entries(bytes).map(([kind, b]) => [kind, Math.round(b / count)]));

await loadProfiles(store, n);
const profiles = await usage();

// The events go to the generator's own users (new profiles, counted apart): history and markers only.
const stream = [...generateStream({ users: 2000, days: 30, seed: 'bench-mem', start: '2026-10-01' })];
const messages = parseBatch({ batch: stream.slice(0, 20_000) }, Date.parse('2026-11-01T00:00:00Z'));
const byKey = new Map<string, ProfileCommit>();
for (const m of messages) {
  const key = `u:${m.userId ?? m.anonymousId}`;
  let commit = byKey.get(key);
  if (!commit) {
    const profile = makeProfile(key, { version: 1 });
    commit = { key, expectedVersion: 0, profile, events: [], messageIds: [] };
    byKey.set(key, commit);
  }
  commit.events.push(toStoredEvent(m, { lateGraceMs: 86_400_000 * 365 }));
  commit.messageIds.push(m.messageId);
}
await store.commit([...byKey.values()]);
const all = await usage();
const events: Record<string, number> = {};
for (const kind of ['h', 'e', 'm']) events[kind] = (all[kind] ?? 0) - (profiles[kind] ?? 0);
const eventBytes = Object.values(events).reduce((a, b) => a + b, 0);
await removeKeys(prefix, redis);
redis.disconnect();
process.stdout.write(
  `${JSON.stringify({
    profiles: n,
    bytesPerProfile: Math.round(Object.values(profiles).reduce((a, b) => a + b, 0) / n),
    profileByKind: per(profiles, n),
    events: messages.length,
    bytesPerEvent: Math.round(eventBytes / messages.length),
    eventByKind: per(events, messages.length),
  })}\n`,
);
