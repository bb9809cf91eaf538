import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../cli/config.ts';
import { checkpointKey, runMigrate } from '../../cli/migrate.ts';
import { redisPrefixes } from '../../cli/start/backends.ts';
import { startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';
import { REDIS_URL, removeKeys, uniquePrefix } from '../../dev/processes.ts';
import { localCluster } from '../../dev/redis-cluster.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';
import { RedisDefinitionStore } from '../../engine/adapters/definitions/redis.ts';
import { connectRedis, type RedisClient } from '../../engine/adapters/redis-connection.ts';
import { CLUSTER_BUCKETS } from '../../engine/adapters/redis-slots.ts';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import type { Profile } from '../../model/profile.ts';
import { DEFINITION_KINDS, type DefinitionStore } from '../../ports/definitions.ts';

const BIN = fileURLToPath(new URL('../../bin/tideline.mjs', import.meta.url));
const USERS = 24;
const WAIT = 'PT30S';

/** A segment, and a journey whose users wait half a minute before an email: in flight while they move. */
const WORKSPACE = {
  'segments/pro_users.json': {
    id: 'pro_users',
    version: 1,
    name: 'Pro users',
    condition: { all: [{ fact: 'profile', path: '$.traits.plan', operator: 'equal', value: 'pro' }] },
  },
  'templates/hello_email.json': {
    id: 'hello_email',
    version: 1,
    name: 'Hello',
    channel: 'email',
    content: { subject: 'Hello', text: 'Hello {{ profile.traits.name }}' },
  },
  'journeys/welcome.json': {
    id: 'welcome',
    version: 1,
    name: 'Welcome',
    trigger: { type: 'event', event: 'signup' },
    goal: { event: 'order_paid', within: 'P7D', revenue: 'amount' },
    steps: [
      { id: 'wait', type: 'wait', duration: WAIT },
      { id: 'email', type: 'send', channel: 'email', template: 'hello_email' },
    ],
  },
};

const DAY = 86_400_000;

/** Each user: a visit as an anonymous visitor, an identify that links it, a signup; some order. */
function stream(start: number): Record<string, unknown>[] {
  const messages: Record<string, unknown>[] = [];
  for (let i = 0; i < USERS; i++) {
    const userId = `user-${i}`;
    const anonymousId = `visitor-${i}`;
    const at = (ms: number) => new Date(start + ms).toISOString();
    messages.push(
      { type: 'page', anonymousId, name: 'home', messageId: `page-${i}`, timestamp: at(0) },
      {
        type: 'identify',
        userId,
        anonymousId,
        messageId: `identify-${i}`,
        traits: {
          name: `User ${i}`,
          email: `u${i}@example.com`,
          consent: { email: true },
          plan: i % 2 ? 'pro' : 'free',
        },
        timestamp: at(10),
      },
      { type: 'track', userId, event: 'signup', messageId: `signup-${i}`, timestamp: at(20) },
    );
    if (i % 3 === 0)
      messages.push({
        type: 'track',
        userId,
        event: 'order_paid',
        messageId: `order-${i}`,
        properties: { amount: 100 + i },
        timestamp: at(30),
      });
  }
  return messages;
}

/** The user's state, without the commit counter (a moved profile starts it again at 1). */
const state = ({ version: _version, ...rest }: Profile) => rest;

async function everything(store: RedisStore, definitions: DefinitionStore) {
  const profiles = new Map<string, unknown>();
  const events = new Map<string, unknown>();
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<RedisStore['scanProfiles']>> = await store.scanProfiles(cursor, 50);
    for (const p of page.profiles) {
      profiles.set(p.key, state(p));
      events.set(p.key, await store.recentEvents(p.key, 10_000));
    }
    cursor = page.cursor;
  } while (cursor !== null);
  const counters = new Map<string, unknown>();
  for (const scope of (await store.counterScopes()).sort())
    counters.set(scope, new Map([...(await store.readCounters(scope))].sort()));
  const versions = new Map<string, unknown>();
  for (const kind of DEFINITION_KINDS)
    for (const { id } of await definitions.list(kind))
      versions.set(`${kind}:${id}`, await definitions.history(kind, id));
  const aliases = await store.getAliases(Array.from({ length: USERS }, (_, i) => `visitor-${i}`));
  return { profiles, events, counters, versions, aliases, count: await store.countProfiles() };
}

const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

describe('tideline migrate: one Redis to a cluster', () => {
  const prefix = uniquePrefix('migrate');
  const dir = workspaceFolder(WORKSPACE);
  let seeds: string[];
  let single: RedisClient;
  let cluster: RedisClient;
  let engine: TestEngine | undefined;
  before(async () => {
    seeds = await localCluster();
    single = connectRedis({ url: REDIS_URL });
    cluster = connectRedis({ clusterNodes: seeds });
  });
  after(async () => {
    await engine?.close().catch(() => {});
    await removeKeys(prefix, single);
    await removeKeys(prefix, cluster);
    single.disconnect();
    cluster.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'moves profiles, segments, journeys in flight and report totals; an interrupted run resumes to the same result; the waits fire on the cluster',
    { timeout: 240_000 },
    async () => {
      // A deployment on one Redis, fed by real ingest: users enter the journey and wait in it.
      const start = Date.now() - 2_000;
      engine = await startTestEngine({
        store: 'redis',
        queue: 'bullmq',
        redisUrl: REDIS_URL,
        redisClusterNodes: [],
        prefix,
        workspaceDir: dir,
      });
      assert.equal(
        (await engine.request('POST', '/v1/batch', { body: { batch: stream(start) } })).status,
        200,
      );
      await engine.settle(60_000);
      await engine.close();
      engine = undefined;

      const options = { eventRetentionMs: 90 * DAY, dedupeHorizonMs: 30 * DAY, prefix: `${prefix}:` };
      const source = new RedisStore({ ...options, redis: single });
      const target = new RedisStore({ ...options, redis: cluster, buckets: CLUSTER_BUCKETS });
      const sourceDefinitions = new RedisDefinitionStore({ redis: single, prefix: `${prefix}:` });
      const targetDefinitions = new RedisDefinitionStore({
        redis: cluster,
        prefix: redisPrefixes({ prefix, redisClusterNodes: seeds }).definitions,
      });
      await Promise.all([source.init(), target.init(), sourceDefinitions.init(), targetDefinitions.init()]);
      const before = await everything(source, sourceDefinitions);
      assert.equal(before.count, USERS, 'every visitor was folded into their user');
      for (const [key, p] of before.profiles as Map<string, Profile>) {
        assert.equal(p.journeys?.welcome?.active?.step, 'wait', `${key} waits in the journey`);
        assert.ok(typeof p.checkAt === 'number', `${key} has a timer`);
      }
      assert.ok(before.counters.size > 0, 'the journey has report counters');

      const config = loadConfig('worker', {
        REDIS_URL,
        REDIS_CLUSTER_NODES: seeds.join(','),
        TIDELINE_PREFIX: prefix,
      });
      // Killed (SIGKILL) as soon as it has moved a profile: anywhere in a page, as a crash would.
      const killed = spawn(process.execPath, [BIN, 'migrate', '--page', '1'], {
        env: { ...process.env, REDIS_URL, REDIS_CLUSTER_NODES: seeds.join(','), TIDELINE_PREFIX: prefix },
        stdio: 'ignore',
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        killed.once('exit', (_code, signal) => resolve(signal)),
      );
      await waitFor(
        async () => Number(await cluster.hget(checkpointKey(prefix), 'profiles')) >= 1,
        60_000,
        'the command to move a profile',
      );
      killed.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL', 'killed before it finished');

      // Then interrupted after two more pages of profiles.
      let pages = 0;
      await assert.rejects(
        runMigrate(
          config,
          {
            page: 5,
            progress: false,
            onProgress: ({ phase }) => {
              if (phase === 'profiles' && ++pages === 2) throw new Error('interrupted');
            },
          },
          sink(),
          sink(),
        ),
        /interrupted/,
      );
      assert.ok((await target.countProfiles()) >= 10, 'two pages were moved');
      assert.ok(await cluster.hget(checkpointKey(prefix), 'cursor'), 'the checkpoint names where to resume');

      let out = '';
      const capture = new Writable({
        write(chunk, _encoding, done) {
          out += String(chunk);
          done();
        },
      });
      assert.equal(await runMigrate(config, { page: 5, progress: false }, capture, sink()), 0);
      assert.match(out, /^resumed; \d+ profiles moved/, out);
      const moved = await everything(target, targetDefinitions);
      assert.deepEqual(moved, before, 'the cluster holds what the single Redis held');

      // Again: nothing more changes.
      out = '';
      assert.equal(await runMigrate(config, { page: 5, progress: false }, capture, sink()), 0);
      assert.match(
        out,
        /^0 profiles moved .* 24 already there; 0 definition steps; 0 report counter parts/,
        out,
      );
      assert.deepEqual(await everything(target, targetDefinitions), before, 'a second run changes nothing');

      // Workers on the cluster: the waits fire and the emails go; a message sent again is a duplicate.
      engine = await startTestEngine({
        store: 'redis',
        queue: 'bullmq',
        redisUrl: REDIS_URL,
        redisClusterNodes: seeds,
        prefix,
        workspaceDir: dir,
      });
      const keys = [...before.profiles.keys()];
      await waitFor(
        async () =>
          [...(await target.getProfiles(keys)).values()].every(
            (p) => p.journeys?.welcome?.active?.step !== 'wait' && (p.outbox ?? []).length === 0,
          ),
        120_000,
        'every wait to fire on the cluster and its email to leave',
      );
      const [first] = stream(start).filter((m) => m.messageId === 'signup-0');
      const counted = (await target.getProfiles(['u:user-0'])).get('u:user-0')?.eventCount;
      assert.equal((await engine.request('POST', '/v1/batch', { body: { batch: [first] } })).status, 200);
      await engine.settle(60_000);
      assert.equal(
        (await target.getProfiles(['u:user-0'])).get('u:user-0')?.eventCount,
        counted,
        'a message applied before the move is a duplicate after it',
      );
    },
  );
});
