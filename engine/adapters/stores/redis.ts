import type { ChainableCommander, Redis } from 'ioredis';
import type { StoredEvent } from '../../events.ts';
import type { CommitResult, ProfileCommit, Store, StoreOptions } from '../../ports/store.ts';
import type { Profile } from '../../profiles/profile.ts';
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
 * h: and e: expire together once their newest event leaves the retention window. Needs Redis >= 6.2.
 */

// KEYS: profile, history, events, counter, [absorbed profile, history, events,] markers...
// ARGV: expectedVersion, value, retention cutoff, dedupe ms, absorbed expectedVersion or '', then
//       (messageId, timestamp, event JSON) per event. Returns 1, or 0 for a conflict (nothing written).
const COMMIT = `
local function version(key)
  local v = redis.call('GET', key)
  return v and tonumber(string.match(v, '^%d+')) or 0
end
if version(KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
local absorbing = ARGV[5] ~= ''
if absorbing and version(KEYS[5]) ~= tonumber(ARGV[5]) then return 0 end

redis.call('SET', KEYS[1], ARGV[2])
if ARGV[1] == '0' then redis.call('INCR', KEYS[4]) end
local markers = 5
if absorbing then
  markers = 8
  if redis.call('DEL', KEYS[5]) == 1 then redis.call('DECR', KEYS[4]) end
  local moved = redis.call('HGETALL', KEYS[7])
  for i = 1, #moved, 2 do
    local at = redis.call('ZSCORE', KEYS[6], moved[i])
    if at and redis.call('HSETNX', KEYS[3], moved[i], moved[i + 1]) == 1 then
      redis.call('ZADD', KEYS[2], at, moved[i])
    end
  end
  redis.call('DEL', KEYS[6], KEYS[7])
end

local cutoff = tonumber(ARGV[3])
for i = 6, #ARGV, 3 do
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
const ERASE = `
local v = redis.call('GET', KEYS[1])
if (v and tonumber(string.match(v, '^%d+')) or 0) ~= tonumber(ARGV[1]) then return -1 end
local erased = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if v then redis.call('DECR', KEYS[5]) end
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[4], ARGV[i]) == ARGV[2] then
    erased = erased + redis.call('HDEL', KEYS[4], ARGV[i])
  end
end
return erased
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
  tidelineRecent(...keysAndArgs: Arg[]): Promise<(string | null)[]>;
}
interface PipelineScripts {
  tidelineCommit(numberOfKeys: number, ...keysAndArgs: Arg[]): ChainableCommander;
}

function encodeProfile(profile: Profile): Buffer {
  return Buffer.concat([Buffer.from(`${profile.version}:z`), compressProfile(profile)]);
}

function decodeProfile(value: Buffer): Profile {
  return decompressProfile(value.subarray(value.indexOf(':z') + 2));
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly scripts: Scripts;
  private readonly prefix: string;
  private readonly clock: { now(): number };

  constructor(
    private readonly options: StoreOptions & { redis: Redis; prefix: string; clock?: { now(): number } },
  ) {
    this.redis = options.redis;
    this.scripts = options.redis as unknown as Scripts;
    this.prefix = options.prefix;
    this.clock = options.clock ?? Date;
  }

  async init(): Promise<void> {
    this.redis.defineCommand('tidelineCommit', { lua: COMMIT });
    this.redis.defineCommand('tidelineErase', { lua: ERASE, numberOfKeys: 5 });
    this.redis.defineCommand('tidelineRecent', { lua: RECENT, numberOfKeys: 2, readOnly: true });
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
      const keys = [this.profileKey(c.key), this.historyKey(c.key), this.eventsKey(c.key), this.counterKey()];
      if (c.absorb) {
        keys.push(this.profileKey(c.absorb.key), this.historyKey(c.absorb.key), this.eventsKey(c.absorb.key));
      }
      for (const id of c.messageIds) keys.push(this.markerKey(id));
      const args: Arg[] = [
        c.expectedVersion,
        encodeProfile(c.profile),
        cutoff,
        this.options.dedupeHorizonMs,
        c.absorb ? c.absorb.expectedVersion : '',
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

  async recentEvents(key: string, limit: number): Promise<StoredEvent[]> {
    if (limit <= 0) return [];
    const cutoff = this.clock.now() - this.options.eventRetentionMs;
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
      ];
      const erased = await this.scripts.tidelineErase(
        ...keys,
        profile?.version ?? 0,
        profile?.userId ?? '',
        ...(profile?.anonymousIds ?? []),
      );
      if (erased >= 0) return erased > 0;
    }
  }

  async countProfiles(): Promise<number> {
    return Number((await this.redis.get(this.counterKey())) ?? 0);
  }

  private profileKey(key: string): string {
    return `${this.prefix}p:${key}`;
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
}
