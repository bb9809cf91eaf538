import type { ChainableCommander } from 'ioredis';
import { escapeGlob, type RedisClient, scanKeys } from '../redis-connection.ts';
import type { StoredEvent } from '../../../model/events.ts';
import {
  type CommitResult,
  type DueProfile,
  type ProfileCommit,
  type ProfilePage,
  type Store,
  type StoreOptions,
  checkDueArguments,
  checkScanLimit,
  passes,
  type ScanFilter,
  dueAt,
} from '../../../ports/store.ts';
import type { Profile } from '../../../model/profile.ts';
import { compressProfile, decompressProfile } from './profile-codec.ts';

/*
 * Data layout, every key under `prefix`:
 *   p:<profileKey>  string   `<version>:z<compressProfile()>`: the scripts read the version, the profile
 *                            is deflated against a preset dictionary (~250 bytes instead of ~1 KB)
 *   h:<profileKey>  zset     messageId -> event timestamp (the history's order and retention)
 *   e:<profileKey>  hash     messageId -> event JSON
 *   m:<messageId>   string   "1", expires after the dedupe horizon
 *   aliases         hash     anonymousId -> userId
 *   profiles        string   number of profiles, kept by the scripts
 *   keys            zset     every profileKey, score 0 (so in byte order), kept by the scripts: what
 *                            scanProfiles pages through (ZRANGE BYLEX), ~100 bytes a profile
 *   due             zset     profileKey -> its checkAt (ms), for the profiles with a re-check timer, kept
 *                            by the scripts: what dueProfiles pages through (the sweeper)
 *   due:built       string   set once init() has indexed the timers of profiles written before `due`
 *   r:<scope>       hash     report counters of a journey's day (`j:<id>:<day>`) or the workspace's (`w:<day>`), kept by the
 *                            commit script (conversions/counters.ts names the fields)
 * h: and e: expire together once their newest event leaves the retention window. Needs Redis >= 6.2.
 *
 * Why an index rather than SCAN MATCH p:*: SCAN walks the whole keyspace (histories, a dedupe marker per
 * message, BullMQ's keys, other prefixes), so its pages are mostly empty and a pass costs as much as the
 * largest of those; it returns keys in no useful order and may return one twice. The index pages in
 * O(log n + page), by key, each profile once, for ~100 bytes a profile (about 416 -> 520 in all).
 */

// KEYS: profile, history, events, counter, index, due, [absorbed profile, history, events,] report
//       counter hashes..., markers...
// ARGV: expectedVersion, value, retention cutoff, dedupe ms, absorbed expectedVersion or '', profileKey,
//       absorbed profileKey or '', checkAt or '' (none), number of counter hashes h, number of counts n,
//       then (hash 1..h, field, by) per count, then (messageId, timestamp, event JSON) per event.
// Returns 1, or 0 for a conflict (nothing written).
const COMMIT = `
local function version(key)
  local v = redis.call('GET', key)
  return v and tonumber(string.match(v, '^%d+')) or 0
end
if version(KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
local absorbing = ARGV[5] ~= ''
if absorbing and version(KEYS[7]) ~= tonumber(ARGV[5]) then return 0 end

redis.call('SET', KEYS[1], ARGV[2])
if ARGV[1] == '0' then
  redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[5], 0, ARGV[6])
end
local markers = 7
if absorbing then
  markers = 10
  if redis.call('DEL', KEYS[7]) == 1 then
    redis.call('DECR', KEYS[4])
    redis.call('ZREM', KEYS[5], ARGV[7])
  end
  redis.call('ZREM', KEYS[6], ARGV[7])
  local moved = redis.call('HGETALL', KEYS[9])
  for i = 1, #moved, 2 do
    local at = redis.call('ZSCORE', KEYS[8], moved[i])
    if at and redis.call('HSETNX', KEYS[3], moved[i], moved[i + 1]) == 1 then
      redis.call('ZADD', KEYS[2], at, moved[i])
    end
  end
  redis.call('DEL', KEYS[8], KEYS[9])
end
if ARGV[8] == '' then
  redis.call('ZREM', KEYS[6], ARGV[6])
else
  redis.call('ZADD', KEYS[6], ARGV[8], ARGV[6])
end

local hashes = markers - 1
markers = markers + tonumber(ARGV[9])
local counted = 11 + 3 * tonumber(ARGV[10])
for i = 11, counted - 1, 3 do
  redis.call('HINCRBY', KEYS[hashes + tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
end

local cutoff = tonumber(ARGV[3])
for i = counted, #ARGV, 3 do
  if tonumber(ARGV[i + 1]) >= cutoff and redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  end
end
local expired = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. ARGV[3], 'BYSCORE')
for _, id in ipairs(expired) do redis.call('HDEL', KEYS[3], id) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3]) end
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2]
if newest then
  local ttl = math.max(1, math.floor(tonumber(newest) - cutoff))
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end

for i = markers, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', ARGV[4]) end
return 1
`;

// Deletes only if the profile is still at the version the caller read its anonymousIds from (-1 otherwise),
// and only the aliases that point to this profile's user.
// KEYS: profile, history, events, aliases, counter, index, due.
// ARGV: version, userId, profileKey, anonymousIds...
const ERASE = `
local v = redis.call('GET', KEYS[1])
if (v and tonumber(string.match(v, '^%d+')) or 0) ~= tonumber(ARGV[1]) then return -1 end
local erased = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if v then
  redis.call('DECR', KEYS[5])
  redis.call('ZREM', KEYS[6], ARGV[3])
  redis.call('ZREM', KEYS[7], ARGV[3])
end
for i = 4, #ARGV do
  if redis.call('HGET', KEYS[4], ARGV[i]) == ARGV[2] then
    erased = erased + redis.call('HDEL', KEYS[4], ARGV[i])
  end
end
return erased
`;

// Adds to the index those of the given profiles that exist (init()'s rebuild; atomic against ERASE).
// KEYS: index, profiles... ARGV: their profileKeys.
const INDEX = `
local added = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then added = added + redis.call('ZADD', KEYS[1], 0, ARGV[i - 1]) end
end
return added
`;

// One page of the due index, by rank: the entries of a sorted set come in (score, member) order, so those
// due by a time are a prefix of it. The page starts after the `after` entry when it is still there with
// the same score; otherwise at the first entry of its score (an entry may then come again, none is skipped).
// KEYS: due. ARGV: before ('+inf' allowed), limit, after's at or '', after's profileKey.
// Returns member, score, member, score... of at most `limit` entries with a score <= before.
const DUE = `
local start = 0
if ARGV[3] ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[4])
  if score and tonumber(score) == tonumber(ARGV[3]) then
    start = redis.call('ZRANK', KEYS[1], ARGV[4]) + 1
  else
    start = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[3])
  end
end
local entries = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1, 'WITHSCORES')
local before = ARGV[1] == '+inf' and math.huge or (ARGV[1] == '-inf' and -math.huge or tonumber(ARGV[1]))
local page = {}
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) > before then break end
  page[#page + 1] = entries[i]
  page[#page + 1] = entries[i + 1]
end
return page
`;

// Indexes the timers of profiles written before the due index existed (init()'s rebuild): each entry
// only if the profile is still at the version its checkAt was read from (atomic against COMMIT).
// KEYS: due, profiles... ARGV: (version, profileKey, checkAt or '') per profile.
const DUE_INDEX = `
local indexed = 0
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i])
  local j = (i - 2) * 3 + 1
  if v and tonumber(string.match(v, '^%d+')) == tonumber(ARGV[j]) then
    if ARGV[j + 2] == '' then
      redis.call('ZREM', KEYS[1], ARGV[j + 1])
    else
      indexed = indexed + redis.call('ZADD', KEYS[1], ARGV[j + 2], ARGV[j + 1])
    end
  end
end
return indexed
`;

const RECENT = `
local ids = redis.call('ZRANGE', KEYS[1], '+inf', ARGV[1], 'BYSCORE', 'REV', 'LIMIT', 0, ARGV[2])
local events = {}
for i, id in ipairs(ids) do events[i] = redis.call('HGET', KEYS[2], id) end
return events
`;

type Arg = string | number | Buffer;
/** The commands `init()` defines: ioredis adds them to the client and to its pipelines at runtime. */
interface Scripts {
  tidelineErase(...keysAndArgs: Arg[]): Promise<number>;
  tidelineDue(...keysAndArgs: Arg[]): Promise<string[]>;
  tidelineDueIndex(numberOfKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
  tidelineIndex(numberOfKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
  tidelineRecent(...keysAndArgs: Arg[]): Promise<(string | null)[]>;
}
interface PipelineScripts {
  tidelineCommit(numberOfKeys: number, ...keysAndArgs: Arg[]): ChainableCommander;
}

/** A score bound as Redis reads it (`+inf`, `-inf` or the number). */
function scoreArg(value: number): string {
  if (value === Infinity) return '+inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}

function encodeProfile(profile: Profile): Buffer {
  return Buffer.concat([Buffer.from(`${profile.version}:z`), compressProfile(profile)]);
}

function decodeProfile(value: Buffer): Profile {
  return decompressProfile(value.subarray(value.indexOf(':z') + 2));
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly redis: RedisClient;
  private readonly scripts: Scripts;
  private readonly prefix: string;
  private readonly clock: { now(): number };

  constructor(
    private readonly options: StoreOptions & {
      redis: RedisClient;
      prefix: string;
      clock?: { now(): number };
    },
  ) {
    this.redis = options.redis;
    this.scripts = options.redis as unknown as Scripts;
    this.prefix = options.prefix;
    this.clock = options.clock ?? Date;
  }

  async init(): Promise<void> {
    this.redis.defineCommand('tidelineCommit', { lua: COMMIT });
    this.redis.defineCommand('tidelineErase', { lua: ERASE, numberOfKeys: 7 });
    this.redis.defineCommand('tidelineIndex', { lua: INDEX });
    this.redis.defineCommand('tidelineDue', { lua: DUE, numberOfKeys: 1, readOnly: true });
    this.redis.defineCommand('tidelineDueIndex', { lua: DUE_INDEX });
    this.redis.defineCommand('tidelineRecent', { lua: RECENT, numberOfKeys: 2, readOnly: true });
    await this.rebuildIndex();
    await this.rebuildDueIndex();
  }

  /** The Redis connection belongs to the caller. */
  async close(): Promise<void> {}

  async getProfiles(keys: readonly string[]): Promise<Map<string, Profile>> {
    const found = new Map<string, Profile>();
    if (keys.length === 0) return found;
    const values = await this.redis.mgetBuffer(keys.map((k) => this.profileKey(k)));
    values.forEach((value, i) => {
      if (value) found.set(keys[i], decodeProfile(value));
    });
    return found;
  }

  async appliedMessageIds(messageIds: readonly string[]): Promise<Set<string>> {
    if (messageIds.length === 0) return new Set();
    const markers = await this.redis.mget(messageIds.map((id) => this.markerKey(id)));
    return new Set(messageIds.filter((_, i) => markers[i] !== null));
  }

  async commit(commits: readonly ProfileCommit[]): Promise<CommitResult> {
    if (commits.length === 0) return { conflicts: [] };
    const wrong = commits.find((c) => c.profile.version !== c.expectedVersion + 1);
    if (wrong) throw new Error(`commit ${wrong.key}: profile.version must be expectedVersion + 1`);
    const cutoff = this.clock.now() - this.options.eventRetentionMs;
    const pipeline = this.redis.pipeline();
    const scripts = pipeline as unknown as PipelineScripts;
    for (const c of commits) {
      const keys = [
        this.profileKey(c.key),
        this.historyKey(c.key),
        this.eventsKey(c.key),
        this.counterKey(),
        this.indexKey(),
        this.dueKey(),
      ];
      if (c.absorb) {
        keys.push(this.profileKey(c.absorb.key), this.historyKey(c.absorb.key), this.eventsKey(c.absorb.key));
      }
      const scopes = Object.keys(c.counts ?? {});
      for (const scope of scopes) keys.push(this.countersKey(scope));
      for (const id of c.messageIds) keys.push(this.markerKey(id));
      const counts: Arg[] = [];
      scopes.forEach((scope, i) => {
        for (const [field, by] of Object.entries(c.counts![scope])) counts.push(i + 1, field, by);
      });
      const args: Arg[] = [
        c.expectedVersion,
        encodeProfile(c.profile),
        cutoff,
        this.options.dedupeHorizonMs,
        c.absorb ? c.absorb.expectedVersion : '',
        c.key,
        c.absorb ? c.absorb.key : '',
        dueAt(c.profile) ?? '',
        scopes.length,
        counts.length / 3,
        ...counts,
      ];
      for (const e of c.events) args.push(e.messageId, e.timestamp, JSON.stringify(e));
      scripts.tidelineCommit(keys.length, ...keys, ...args);
    }
    const replies = (await pipeline.exec()) ?? [];
    const conflicts: string[] = [];
    for (const [i, [error, applied]] of replies.entries()) {
      if (error) throw error;
      if (applied !== 1) conflicts.push(commits[i].key);
    }
    return { conflicts };
  }

  async getAliases(anonymousIds: readonly string[]): Promise<Map<string, string>> {
    const aliases = new Map<string, string>();
    if (anonymousIds.length === 0) return aliases;
    const userIds = await this.redis.hmget(this.aliasesKey(), ...anonymousIds);
    userIds.forEach((userId, i) => {
      if (userId !== null) aliases.set(anonymousIds[i], userId);
    });
    return aliases;
  }

  async linkAlias(anonymousId: string, userId: string): Promise<string> {
    const replies = await this.redis
      .multi()
      .hsetnx(this.aliasesKey(), anonymousId, userId)
      .hget(this.aliasesKey(), anonymousId)
      .exec();
    const [error, linked] = replies?.[1] ?? [new Error('linkAlias: transaction aborted'), null];
    if (error) throw error;
    return linked as string;
  }

  async recentEvents(key: string, limit: number, since = 0): Promise<StoredEvent[]> {
    if (limit <= 0) return [];
    const cutoff = Math.max(since, this.clock.now() - this.options.eventRetentionMs);
    const events = await this.scripts.tidelineRecent(
      this.historyKey(key),
      this.eventsKey(key),
      cutoff,
      limit,
    );
    return events.filter((e) => e !== null).map((e) => JSON.parse(e));
  }

  async eraseProfile(key: string): Promise<boolean> {
    for (;;) {
      const value = await this.redis.getBuffer(this.profileKey(key));
      const profile = value ? decodeProfile(value) : null;
      const keys = [
        this.profileKey(key),
        this.historyKey(key),
        this.eventsKey(key),
        this.aliasesKey(),
        this.counterKey(),
        this.indexKey(),
        this.dueKey(),
      ];
      const erased = await this.scripts.tidelineErase(
        ...keys,
        profile?.version ?? 0,
        profile?.userId ?? '',
        key,
        ...(profile?.anonymousIds ?? []),
      );
      if (erased >= 0) return erased > 0;
    }
  }

  async countProfiles(): Promise<number> {
    return Number((await this.redis.get(this.counterKey())) ?? 0);
  }

  /**
   * By key in byte order (ZRANGE BYLEX on the index, then MGET); the cursor is the last key of the page.
   * Exactly once for every profile that exists for the whole scan. A page may come back short when
   * profiles are deleted between the two reads.
   */
  /** With a filter, `limit` bounds the profiles looked at (each is decoded, then filtered). */
  async scanProfiles(cursor: string | null, limit: number, filter?: ScanFilter): Promise<ProfilePage> {
    checkScanLimit(limit);
    // One more than asked, to know whether this page is the last.
    const keys = await this.redis.zrange(
      this.indexKey(),
      cursor === null ? '-' : `(${cursor}`,
      '+',
      'BYLEX',
      'LIMIT',
      0,
      limit + 1,
    );
    const page = keys.slice(0, limit);
    const profiles: Profile[] = [];
    if (page.length > 0) {
      const values = await this.redis.mgetBuffer(page.map((k) => this.profileKey(k)));
      for (const value of values) {
        const profile = value ? decodeProfile(value) : null;
        if (profile && passes(profile, filter)) profiles.push(profile);
      }
    }
    return { profiles, cursor: keys.length > limit ? page[page.length - 1] : null };
  }

  /** ZRANGE by rank on the due index (O(log n + limit)), in a script so that `after` is found atomically. */
  async dueProfiles(before: number, limit: number, after?: DueProfile): Promise<DueProfile[]> {
    checkDueArguments(before, limit, after);
    const reply = await this.scripts.tidelineDue(
      this.dueKey(),
      scoreArg(before),
      limit,
      after ? after.at : '',
      after ? after.key : '',
    );
    const page: DueProfile[] = [];
    for (let i = 0; i < reply.length; i += 2) page.push({ key: reply[i], at: Number(reply[i + 1]) });
    return page;
  }

  /**
   * Data written before the due index existed: once per prefix (until `due:built` is set), the timers of
   * every profile are indexed, each only if the profile has not changed since it was read (a commit keeps
   * its own entry). Idempotent and safe alongside running workers of this version; workers of an older
   * version do not keep the index and must all be stopped first.
   */
  private async rebuildDueIndex(): Promise<void> {
    if ((await this.redis.exists(this.dueBuiltKey())) === 1) return;
    let cursor: string | null = null;
    do {
      const page: ProfilePage = await this.scanProfiles(cursor, 500);
      if (page.profiles.length > 0) {
        const keys = page.profiles.map((p) => this.profileKey(p.key));
        const args = page.profiles.flatMap((p) => [p.version, p.key, dueAt(p) ?? '']);
        await this.scripts.tidelineDueIndex(keys.length + 1, this.dueKey(), ...keys, ...args);
      }
      cursor = page.cursor;
    } while (cursor !== null);
    await this.redis.set(this.dueBuiltKey(), '1');
  }

  /**
   * Data written before the index existed: when it does not count as many keys as there are profiles,
   * every p: key is added to it (SCAN, each batch checked against ERASE in a script). Idempotent, safe
   * alongside running workers of this version; workers of an older version must all be stopped first.
   */
  private async rebuildIndex(): Promise<void> {
    const [indexed, counted] = await Promise.all([
      this.redis.zcard(this.indexKey()),
      this.redis.get(this.counterKey()),
    ]);
    if (indexed === Number(counted ?? 0)) return;
    const profilePrefix = this.profileKey('');
    await scanKeys(this.redis, `${escapeGlob(profilePrefix)}*`, async (_, found) => {
      const keys = found.map((k) => k.slice(profilePrefix.length));
      await this.scripts.tidelineIndex(found.length + 1, this.indexKey(), ...found, ...keys);
    });
  }

  private profileKey(key: string): string {
    return `${this.prefix}p:${key}`;
  }
  async readCounters(scope: string): Promise<ReadonlyMap<string, number>> {
    // The flat reply, not ioredis' object: a journey's hash can hold hundreds of thousands of fields.
    const flat = (await this.redis.call('HGETALL', this.countersKey(scope))) as string[];
    const counters = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) counters.set(flat[i], Number(flat[i + 1]));
    return counters;
  }

  private countersKey(scope: string): string {
    return `${this.prefix}r:${scope}`;
  }

  private historyKey(key: string): string {
    return `${this.prefix}h:${key}`;
  }
  private eventsKey(key: string): string {
    return `${this.prefix}e:${key}`;
  }
  private markerKey(messageId: string): string {
    return `${this.prefix}m:${messageId}`;
  }
  private aliasesKey(): string {
    return `${this.prefix}aliases`;
  }
  private counterKey(): string {
    return `${this.prefix}profiles`;
  }
  private indexKey(): string {
    return `${this.prefix}keys`;
  }
  private dueKey(): string {
    return `${this.prefix}due`;
  }
  private dueBuiltKey(): string {
    return `${this.prefix}due:built`;
  }
}
