import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCommit, makeProfile, updateCommit } from '../../dev/profiles.ts';
import { removeKeys } from '../../dev/processes.ts';
import { bucketOf, CLUSTER_BUCKETS, keySlot } from '../../engine/adapters/redis-slots.ts';
import { masters } from '../../engine/adapters/redis-connection.ts';
import { RedisStore } from '../../engine/adapters/stores/redis.ts';
import { applyBatch } from '../../engine/ingest/apply-batch.ts';
import type { InboundMessage } from '../../model/events.ts';
import { CONFORMANCE_OPTIONS, storeConformance } from './conformance.ts';
import { onCluster } from '../helpers/cluster.ts';
import { redisTraces } from '../helpers/traces.ts';

// The bucketed layout on a Redis Cluster: every commit is one slot, the per-bucket indexes are merged
// on read.
const { redis, runPrefix } = await onCluster();
let stores = 0;

const open = (prefix: string, clock?: { now(): number }) =>
  new RedisStore({
    ...CONFORMANCE_OPTIONS,
    redis,
    prefix,
    buckets: CLUSTER_BUCKETS,
    ...(clock ? { clock } : {}),
  });

// Reads over all profiles cost a command per bucket, and the suite pages through a few profiles in
// pages as small as 1: 64 buckets (still spread over every master) keep it to seconds. The tests below
// use the production count.
const SUITE_BUCKETS = 64;

storeConformance('redis cluster', async (options) => {
  const prefix = `${runPrefix}-${++stores}:`;
  return {
    store: new RedisStore({ ...options, redis, prefix, buckets: SUITE_BUCKETS }),
    cleanup: async () => void (await removeKeys(prefix, redis)),
    // Every key of every master, searched as on a single Redis.
    traces: async (needles: readonly string[]) =>
      (await Promise.all(masters(redis).map((node) => redisTraces(node, needles)))).flat(),
  };
});

/** Two keys of different buckets, as the merges below need. */
function apart(anonymous: string, user: string): [string, string] {
  assert.notEqual(bucketOf(anonymous, CLUSTER_BUCKETS), bucketOf(user, CLUSTER_BUCKETS));
  return [anonymous, user];
}

describe('redis cluster store: merges across buckets', () => {
  it('finds a message applied to the anonymous profile once its id is linked to a user', async () => {
    const prefix = `${runPrefix}-dedupe:`;
    const store = open(prefix);
    await store.init();
    const [anonymous, user] = apart('a:visitor-1', 'u:ann');
    await store.commit([{ ...createCommit(makeProfile(anonymous, { userId: null })), messageIds: ['m1'] }]);
    assert.deepEqual(await store.appliedMessageIds(['m1'], new Map([['m1', [user]]])), new Set());
    assert.deepEqual(
      await store.appliedMessageIds(['m1'], new Map([['m1', [user, anonymous]]])),
      new Set(['m1']),
    );
    assert.deepEqual(await store.appliedMessageIds(['m1']), new Set(['m1']));
  });

  it('finishes a merge whose target was committed before the worker died', async () => {
    const prefix = `${runPrefix}-landed:`;
    const store = open(prefix);
    await store.init();
    const [anonymous, user] = apart('a:visitor-3', 'u:cy');
    await store.commit([
      createCommit(makeProfile(anonymous, { userId: null, checkAt: 1000 })),
      createCommit(makeProfile(user)),
    ]);
    // Steps 1 and 2 by hand (seal, then the target's commit with its receipt), then a "crash".
    const internals = store as unknown as {
      commitCall: (c: unknown, cutoff: number, move: unknown) => [string[], (string | number | Buffer)[]];
    };
    const sealed = (await (
      redis as unknown as { tidelineSeal(...a: unknown[]): Promise<string[]> }
    ).tidelineSeal(
      `${prefix}{${bucketOf(anonymous, CLUSTER_BUCKETS)}}:p:${anonymous}`,
      `${prefix}{${bucketOf(anonymous, CLUSTER_BUCKETS)}}:s:${anonymous}`,
      `${prefix}{${bucketOf(anonymous, CLUSTER_BUCKETS)}}:h:${anonymous}`,
      `${prefix}{${bucketOf(anonymous, CLUSTER_BUCKETS)}}:e:${anonymous}`,
      1,
      'move-1',
      user,
      Date.now(),
    )) as string[];
    assert.equal(sealed[0], 'move-1');
    const merged = updateCommit(makeProfile(user, { version: 2 }), 1);
    const [keys, args] = internals.commitCall(merged, 0, {
      moveId: 'move-1',
      receipt: `${prefix}{${bucketOf(user, CLUSTER_BUCKETS)}}:x:${anonymous}`,
      moved: [],
    });
    const pipeline = redis.pipeline() as unknown as {
      tidelineCommit(...a: unknown[]): unknown;
      exec(): Promise<unknown>;
    };
    pipeline.tidelineCommit(keys.length, ...keys, ...args);
    await pipeline.exec();
    // The sealed profile refuses its own commits; a reader finishes the merge and no longer sees it.
    assert.deepEqual(
      await store.commit([updateCommit(makeProfile(anonymous, { version: 2, userId: null }), 1)]),
      { conflicts: [anonymous] },
    );
    assert.deepEqual([...(await store.getProfiles([anonymous, user])).keys()], [user]);
    assert.equal(await store.countProfiles(), 1);
    assert.deepEqual(await store.dueProfiles(Infinity, 10), []);
    assert.equal(await redis.exists(`${prefix}{${bucketOf(user, CLUSTER_BUCKETS)}}:x:${anonymous}`), 0);
  });

  it('gives up a merge whose worker died before committing the target, once its lease is over', async () => {
    const prefix = `${runPrefix}-void:`;
    let now = Date.now();
    const store = open(prefix, { now: () => now });
    await store.init();
    const [anonymous, user] = apart('a:visitor-4', 'u:dee');
    await store.commit([
      createCommit(makeProfile(anonymous, { userId: null })),
      createCommit(makeProfile(user)),
    ]);
    const tag = `{${bucketOf(anonymous, CLUSTER_BUCKETS)}}`;
    await redis.set(`${prefix}${tag}:s:${anonymous}`, `move-2\n${now}\n${user}`);
    // Within the lease the profile is there but sealed: its own commits wait.
    assert.equal((await store.getProfiles([anonymous])).get(anonymous)?.version, 1);
    assert.deepEqual(
      await store.commit([updateCommit(makeProfile(anonymous, { version: 2, userId: null }), 1)]),
      { conflicts: [anonymous] },
    );
    now += 60_000;
    assert.equal((await store.getProfiles([anonymous])).get(anonymous)?.version, 1);
    assert.equal(
      await redis.get(`${prefix}{${bucketOf(user, CLUSTER_BUCKETS)}}:x:${anonymous}`),
      'void:move-2',
    );
    // The late second step of the given-up move conflicts; the profile is free again.
    assert.deepEqual(
      await store.commit([updateCommit(makeProfile(anonymous, { version: 2, userId: null }), 1)]),
      { conflicts: [] },
    );
    const merged = updateCommit(makeProfile(user, { version: 2 }), 1);
    merged.absorb = { key: anonymous, expectedVersion: 2 };
    assert.deepEqual(await store.commit([merged]), { conflicts: [] });
    assert.deepEqual([...(await store.getProfiles([anonymous, user])).keys()], [user]);
    assert.equal(await store.countProfiles(), 1);
  });
});

describe('redis cluster store: an anonymous visitor who identifies, through applyBatch', () => {
  it('merges the visitor into the user of another bucket once, and a replayed visitor call stays applied once', async () => {
    const prefix = `${runPrefix}-identify:`;
    const store = open(prefix);
    await store.init();
    apart('a:visitor-1', 'u:ann');
    const now = Date.now();
    const call = (messageId: string, fields: Partial<InboundMessage>): InboundMessage => ({
      type: 'track',
      messageId,
      timestamp: now,
      receivedAt: now,
      ...fields,
    });
    const options = { lateGraceMs: 86_400_000 };
    const viewed = call('m1', { anonymousId: 'visitor-1', event: 'Viewed' });
    assert.equal((await applyBatch(store, [viewed], options)).applied, 1);
    const identified = call('m2', { type: 'identify', anonymousId: 'visitor-1', userId: 'ann', traits: {} });
    assert.equal((await applyBatch(store, [identified], options)).applied, 1);
    const profiles = await store.getProfiles(['a:visitor-1', 'u:ann']);
    assert.deepEqual([...profiles.keys()], ['u:ann']);
    const before = profiles.get('u:ann');
    assert.deepEqual(ids(await store.recentEvents('u:ann', 10)).sort(), ['m1', 'm2']);
    // The visitor's call again (a retried request): it goes to the user now, and is known there.
    const replay = await applyBatch(store, [viewed], options);
    assert.deepEqual([replay.applied, replay.duplicates], [0, 1]);
    assert.deepEqual((await store.getProfiles(['u:ann'])).get('u:ann'), before);
    assert.equal(await store.countProfiles(), 1);
  });
});

const ids = (events: { messageId: string }[]) => events.map((e) => e.messageId);

describe('redis cluster store: report counters', () => {
  it("knows each bucket's slot as the cluster does (a fold sends one pipeline per master)", async () => {
    const node = masters(redis)[0];
    for (const key of ['tl{0}:r:delta', 'tl{1023}:r:delta', 'plain', 'a{}b', 'é{ü}x', 'x{y']) {
      assert.equal(keySlot(key), Number(await node.call('CLUSTER', 'KEYSLOT', key)), key);
    }
  });

  /** Commits of `users` profiles spread over the buckets, each counting into two scopes. */
  async function countFrom(store: RedisStore, users: number, round: number): Promise<void> {
    const commits = Array.from({ length: users }, (_, i) => {
      const profile = makeProfile(`u:counted-${i}`, { version: round + 1 });
      const commit = round === 0 ? createCommit(profile) : updateCommit(profile, round);
      commit.counts = { 'j:cart:1': { 'sent|push': 1, 'revenue|cart': 1999 + i }, 'w:1': { [`o|${i}`]: 1 } };
      return commit;
    });
    assert.deepEqual(await store.commit(commits), { conflicts: [] });
  }
  const expected = (users: number, rounds: number) => {
    let revenue = 0;
    for (let i = 0; i < users; i++) revenue += (1999 + i) * rounds;
    return new Map([
      ['sent|push', users * rounds],
      ['revenue|cart', revenue],
    ]);
  };

  it('sums every bucket exactly, across folds, and readers in parallel count nothing twice', async () => {
    const store = open(`${runPrefix}-counters:`);
    await store.init();
    await countFrom(store, 300, 0);
    assert.deepEqual(await store.readCounters('j:cart:1'), expected(300, 1));
    await countFrom(store, 300, 1);
    const reads = await Promise.all(Array.from({ length: 5 }, () => store.readCounters('j:cart:1')));
    for (const read of reads) assert.deepEqual(read, expected(300, 2));
    assert.equal((await store.readCounters('w:1')).get('o|7'), 2);
    assert.deepEqual(await store.readCounters('j:none:1'), new Map());
  });

  it("a day's totals are parsed again only once they change: a late count, another process's fold, totals built anew", async () => {
    const prefix = `${runPrefix}-versions:`;
    const [reader, writer] = [open(prefix), open(prefix)];
    await Promise.all([reader.init(), writer.init()]);
    await countFrom(writer, 50, 0);
    const first = await reader.readCounters('j:cart:1');
    assert.deepEqual(first, expected(50, 1));
    // Nothing changed: the same parsed totals.
    assert.equal(await reader.readCounters('j:cart:1'), first);
    // A late count for the day, folded by another process's read: the reader sees it.
    await countFrom(writer, 50, 1);
    assert.deepEqual(await writer.readCounters('j:cart:1'), expected(50, 2));
    const second = await reader.readCounters('j:cart:1');
    assert.deepEqual(second, expected(50, 2));
    assert.notEqual(second, first);
    // Deleted and counted again from nothing: not the totals kept before.
    await removeKeys(prefix, redis);
    await countFrom(writer, 10, 0);
    assert.deepEqual(await reader.readCounters('j:cart:1'), expected(10, 1));
    // Totals without a version (written before versions existed) get one, then are kept.
    await redis.del(`${prefix}r{j:cart:1}:v`);
    const unversioned = await reader.readCounters('j:cart:1');
    assert.deepEqual(unversioned, expected(10, 1));
    assert.equal(await reader.readCounters('j:cart:1'), unversioned);
  });

  it('a fold that stopped at any step is finished by the next read, each count added once', async () => {
    const prefix = `${runPrefix}-fold-crash:`;
    const users = 200;
    for (const stopAfter of [0, 1, 2]) {
      const store = open(`${prefix}${stopAfter}:`);
      await store.init();
      await countFrom(store, users, 0);
      // A fold whose worker dies: deltas taken aside everywhere, then only `stopAfter` scopes added
      // (and with 2, every scope but not one bucket's fold dropped).
      const client = redis as unknown as {
        tidelineFoldAdd(...a: unknown[]): Promise<number>;
        pipeline(): unknown;
      };
      const add = client.tidelineFoldAdd.bind(redis);
      const pipeline = client.pipeline.bind(redis);
      let adds = 0;
      client.tidelineFoldAdd = async (...a) => {
        if (++adds > stopAfter) throw new Error('worker died');
        const added = await add(...a);
        // Every scope added: the worker dies before the taken deltas are dropped.
        if (stopAfter === 2 && adds === 2)
          client.pipeline = () => {
            throw new Error('worker died');
          };
        return added;
      };
      await assert.rejects(store.readCounters('j:cart:1'), /worker died/);
      client.tidelineFoldAdd = add;
      client.pipeline = pipeline;
      // Counting goes on meanwhile, into fresh deltas.
      await countFrom(store, users, 1);
      assert.deepEqual(await store.readCounters('j:cart:1'), expected(users, 2));
      assert.equal((await store.readCounters('w:1')).get(`o|${users - 1}`), 2);
      await countFrom(store, users, 2);
      assert.deepEqual(await store.readCounters('j:cart:1'), expected(users, 3));
    }
  });
});
