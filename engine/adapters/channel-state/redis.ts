import type { Redis } from 'ioredis';
import { deleteOnNode, escapeGlob, type RedisClient, scanKeys } from '../redis-connection.ts';
import type {
  CapWindow,
  ChannelAlert,
  ChannelState,
  Claim,
  ClaimRequest,
  MessageRecord,
  Suppression,
} from '../../../ports/channel-state.ts';
import { bucketOf, bucketTag } from '../redis-slots.ts';
import { blind, DIGEST } from './rules.ts';

/** Message records, index entries and inbound marks live this long. */
const RECORD_TTL_SECONDS = 30 * 24 * 3600;

// nextClaim of rules.ts, as one atomic step. KEYS[1] record; ARGV request JSON, ttl.
const CLAIM = `
local raw = redis.call('GET', KEYS[1])
local req = cjson.decode(ARGV[1])
if not raw then
  local rec = { messageId = req.messageId, state = 'sending', claimedAt = req.now, firstAttemptAt = req.now,
    attempts = 1, profileKey = req.profileKey, journeyId = req.journeyId, channel = req.channel,
    version = req.version, step = req.step, template = req.template }
  local out = cjson.encode(rec)
  redis.call('SET', KEYS[1], out, 'EX', ARGV[2])
  return {'go', out}
end
local rec = cjson.decode(raw)
if rec.state == 'done' then return {'done', raw} end
if rec.state == 'unknown' then return {'unknown', raw} end
if rec.state == 'retry' then
  rec.state = 'sending'; rec.claimedAt = req.now; rec.attempts = rec.attempts + 1
  local out = cjson.encode(rec)
  redis.call('SET', KEYS[1], out, 'KEEPTTL')
  return {'go', out}
end
if rec.claimedAt + req.leaseMs > req.now then return {'busy', raw} end
rec.state = 'unknown'
local out = cjson.encode(rec)
redis.call('SET', KEYS[1], out, 'KEEPTTL')
return {'unknown', out}
`;

// KEYS[1] record; ARGV[1] fields JSON. Merges into an existing record only.
const UPDATE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local rec = cjson.decode(raw)
for k, v in pairs(cjson.decode(ARGV[1])) do rec[k] = v end
local out = cjson.encode(rec)
redis.call('SET', KEYS[1], out, 'KEEPTTL')
return out
`;

// KEYS cap windows; ARGV[1] message id, ARGV[2] now, then window ms and limit per key.
const RESERVE = `
local id = ARGV[1]
local now = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if not redis.call('ZSCORE', key, id) and redis.call('ZCARD', key) >= limit then return key end
end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[1 + 2 * i])
  redis.call('ZADD', key, 'NX', now, id)
  redis.call('PEXPIRE', key, window)
end
return false
`;

const TAKE_CREDIT = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 0 then return 0 end
redis.call('DECR', KEYS[1])
return 1
`;

// rateWait of rules.ts. KEYS[1] tat; ARGV rate, now.
const RATE = `
local interval = 1000 / tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local nxt = math.max(tat, now) + interval
redis.call('SET', KEYS[1], tostring(nxt), 'PX', 60000)
return tostring(math.max(0, nxt - now - math.max(interval, 100)))
`;

interface Scripts {
  tidelineClaim(key: string, request: string, ttl: number): Promise<[Claim['kind'], string]>;
  tidelineUpdate(key: string, fields: string): Promise<string | null>;
  tidelineReserve(numberOfKeys: number, ...args: (string | number)[]): Promise<string | null>;
  tidelineTakeCredit(key: string): Promise<number>;
  tidelineRate(key: string, rate: number, now: number): Promise<string>;
}

/** Channel state in Redis (both production modes: Redis is always there for the queues). */
export class RedisChannelState implements ChannelState {
  private readonly scripts: Scripts;

  /**
   * `buckets` > 1 (on a Redis Cluster): the cap windows of a send lie in the slot of the profile's bucket
   * (as its store keys do), so one reservation is one slot; on one Redis the keys are untagged.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly options: { buckets?: number } = {},
  ) {
    redis.defineCommand('tidelineClaim', { lua: CLAIM, numberOfKeys: 1 });
    redis.defineCommand('tidelineUpdate', { lua: UPDATE, numberOfKeys: 1 });
    redis.defineCommand('tidelineReserve', { lua: RESERVE });
    redis.defineCommand('tidelineTakeCredit', { lua: TAKE_CREDIT, numberOfKeys: 1 });
    redis.defineCommand('tidelineRate', { lua: RATE, numberOfKeys: 1 });
    this.scripts = redis as unknown as Scripts;
  }

  private key(...parts: string[]): string {
    return `${this.prefix}:ch:${parts.join(':')}`;
  }

  /**
   * A cap window's key: on a cluster under the hash tag of the owner's bucket (a device's window too,
   * so a device shared by two profiles is counted per profile there), or of `{caps}` when no owner is
   * named.
   */
  private capKey(windowKey: string, owner?: string): string {
    return `${this.prefix}:ch:${this.capSlot(owner)}cap:${windowKey}`;
  }
  private capSlot(owner?: string): string {
    const buckets = this.options.buckets ?? 1;
    if (buckets === 1) return '';
    return owner === undefined ? '{caps}:' : `${bucketTag(bucketOf(owner, buckets))}:`;
  }

  async claim(request: ClaimRequest): Promise<Claim> {
    const profile = this.key('pmsg', request.profileKey);
    const [[kind, raw]] = await Promise.all([
      this.scripts.tidelineClaim(
        this.key('msg', request.messageId),
        JSON.stringify(request),
        RECORD_TTL_SECONDS,
      ),
      // The profile's messages, for erasure (a set per profile: its own key, any hash slot).
      this.redis.sadd(profile, request.messageId),
      this.redis.expire(profile, RECORD_TTL_SECONDS),
    ]);
    return { kind, record: JSON.parse(raw) as MessageRecord };
  }

  // Plain commands, not MULTI: the index only helps find the record, and single commands ride the
  // connection's automatic pipeline when it has one.
  async settle(record: MessageRecord, index: string[] = []): Promise<void> {
    const indexes = this.key('midx', record.messageId);
    await Promise.all([
      this.redis.set(this.key('msg', record.messageId), JSON.stringify(record), 'EX', RECORD_TTL_SECONDS),
      ...index.map((k) =>
        this.redis.set(this.key('idx', blind(k)), record.messageId, 'EX', RECORD_TTL_SECONDS),
      ),
      ...(index.length > 0
        ? [this.redis.sadd(indexes, ...index.map(blind)), this.redis.expire(indexes, RECORD_TTL_SECONDS)]
        : []),
    ]);
  }

  async forgetProfile(profileKey: string): Promise<number> {
    const profile = this.key('pmsg', profileKey);
    const ids = await this.redis.smembers(profile);
    let removed = 0;
    for (const id of ids) {
      const indexes = await this.redis.smembers(this.key('midx', id));
      removed += await this.redis.del(this.key('msg', id));
      // One key a command: on a cluster they lie in different slots.
      await Promise.all(
        [this.key('midx', id), ...indexes.map((k) => this.key('idx', k))].map((k) => this.redis.del(k)),
      );
    }
    await this.redis.del(profile);
    // Cap windows are named after the profile (`<profileKey>:<channel>:<window>`).
    const slots = (this.options.buckets ?? 1) === 1 ? [undefined] : [profileKey, undefined];
    for (const owner of slots) {
      await scanKeys(this.redis, `${escapeGlob(this.capKey(profileKey, owner))}:*`, async (node, keys) => {
        await deleteOnNode(node, keys);
      });
    }
    return removed;
  }

  async record(messageId: string): Promise<MessageRecord | null> {
    const raw = await this.redis.get(this.key('msg', messageId));
    return raw ? (JSON.parse(raw) as MessageRecord) : null;
  }

  async lookup(indexKey: string): Promise<string | null> {
    // Entries written before keys were digests are still found (they expire within the record TTL).
    return (
      (await this.redis.get(this.key('idx', blind(indexKey)))) ?? this.redis.get(this.key('idx', indexKey))
    );
  }

  async update(messageId: string, fields: Partial<MessageRecord>): Promise<MessageRecord | null> {
    const raw = await this.scripts.tidelineUpdate(this.key('msg', messageId), JSON.stringify(fields));
    return raw ? (JSON.parse(raw) as MessageRecord) : null;
  }

  // Fields are digests of the address, so that the list outlives an erasure without naming anyone.
  async suppress(channel: string, address: string, suppression: Suppression): Promise<void> {
    await this.redis.hset(this.key('suppressed', channel), blind(address), JSON.stringify(suppression));
  }

  async suppressed(channel: string, address: string): Promise<Suppression | null> {
    const raw = await this.redis.hget(this.key('suppressed', channel), blind(address));
    return raw ? (JSON.parse(raw) as Suppression) : null;
  }

  async unsuppress(channel: string, address: string): Promise<void> {
    await this.redis.hdel(this.key('suppressed', channel), blind(address));
  }

  async reserve(
    messageId: string,
    windows: CapWindow[],
    now: number,
    owner?: string,
  ): Promise<{ ok: true } | { ok: false; full: string }> {
    if (windows.length === 0) return { ok: true };
    const keys = windows.map((w) => this.capKey(w.key, owner));
    const full = await this.scripts.tidelineReserve(
      keys.length,
      ...keys,
      messageId,
      now,
      ...windows.flatMap((w) => [w.windowMs, w.limit]),
    );
    return full ? { ok: false, full: windows[keys.indexOf(full)].key } : { ok: true };
  }

  async release(messageId: string, keys: string[], owner?: string): Promise<void> {
    await Promise.all(keys.map((k) => this.redis.zrem(this.capKey(k, owner), messageId)));
  }

  // Credits are per (app, openid, template): kept under a digest, so that no key names the openid.
  private credit(key: string): string {
    return this.key('credit', blind(key));
  }

  async grantCredit(key: string, status: 'accept' | 'reject'): Promise<number> {
    if (status === 'reject') {
      await this.redis.set(this.credit(key), 0);
      return 0;
    }
    return this.redis.incr(this.credit(key));
  }

  async takeCredit(key: string): Promise<boolean> {
    return (await this.scripts.tidelineTakeCredit(this.credit(key))) === 1;
  }

  async returnCredit(key: string): Promise<void> {
    await this.redis.incr(this.credit(key));
  }

  async credits(key: string): Promise<number> {
    return Number((await this.redis.get(this.credit(key))) ?? 0);
  }

  /**
   * Suppressions and credits written before they were kept under digests (fields and key names that
   * are the address or the openid) are renamed, once per deployment: at start, before any send.
   */
  async renamePlainEntries(): Promise<void> {
    const done = this.key('digested');
    if (await this.redis.exists(done)) return;
    for (const list of await this.keysLike(this.key('suppressed', ''))) {
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(list, cursor, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i < flat.length; i += 2) {
          if (DIGEST.test(flat[i])) continue;
          await this.redis.hsetnx(list, blind(flat[i]), flat[i + 1]);
          await this.redis.hdel(list, flat[i]);
        }
      } while (cursor !== '0');
    }
    const credits = this.key('credit', '');
    for (const key of await this.keysLike(credits)) {
      const name = key.slice(credits.length);
      if (DIGEST.test(name)) continue;
      const count = await this.redis.getdel(key);
      if (count !== null) await this.redis.incrby(this.credit(name), Number(count));
    }
    await this.redis.set(done, '1');
  }

  private async keysLike(start: string): Promise<string[]> {
    const found: string[] = [];
    await scanKeys(this.redis, `${escapeGlob(start)}*`, async (_node, keys) => {
      found.push(...keys);
    });
    return found;
  }

  async firstSeen(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key('seen', blind(key)), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async forgetSeen(keys: string[]): Promise<void> {
    await Promise.all(keys.map((k) => this.redis.del(this.key('seen', blind(k)))));
  }

  async rateSlot(provider: string, ratePerSecond: number, now: number): Promise<number> {
    return Number(await this.scripts.tidelineRate(this.key('rate', provider), ratePerSecond, now));
  }

  async raiseAlert(alert: ChannelAlert): Promise<void> {
    await this.redis.hsetnx(this.key('alerts'), alert.id, JSON.stringify(alert));
  }

  async alerts(): Promise<ChannelAlert[]> {
    const all = await this.redis.hgetall(this.key('alerts'));
    return Object.values(all)
      .map((raw) => JSON.parse(raw) as ChannelAlert)
      .sort((a, b) => a.at - b.at);
  }

  async resolveAlert(id: string): Promise<boolean> {
    return (await this.redis.hdel(this.key('alerts'), id)) === 1;
  }

  /**
   * Copies this deployment's channel state into another layout's (`tideline migrate`, one Redis to a
   * cluster), merging into what is there (a field, member or key the target has is kept): message
   * records and their indexes (a message settled or in doubt is not sent again), suppressions (an
   * opt-out is kept), credits, inbound marks, alerts, and the cap windows, moved to their owners'
   * buckets (a device's window split by the profile each send was for). Provider rate windows, a
   * minute long, are left behind. Running it again adds nothing. Answers how many keys it copied.
   */
  async copyTo(target: RedisChannelState): Promise<number> {
    const start = this.key('');
    let copied = 0;
    await scanKeys(this.redis, `${escapeGlob(start)}*`, async (node, keys) => {
      for (const key of keys) {
        const name = key.slice(start.length);
        if (name.startsWith('rate:')) continue;
        const cap = /^(?:\{[^}]*\}:)?cap:(.*)$/s.exec(name);
        const written = cap
          ? await this.copyCapWindow(node, key, cap[1], target)
          : await mergeKey(node, key, target.redis, target.key(name));
        if (written) copied++;
      }
    });
    return copied;
  }

  private async copyCapWindow(
    node: Redis,
    key: string,
    windowKey: string,
    target: RedisChannelState,
  ): Promise<boolean> {
    const [flat, ttl] = await Promise.all([node.zrange(key, '0', '-1', 'WITHSCORES'), node.pttl(key)]);
    if (flat.length === 0) return false;
    // `<profileKey>:<channel>:<window>`, or `device:<token>:P1D`, whose sends name their profiles.
    const owner = windowKey.split(':').slice(0, -2).join(':');
    const byOwner = new Map<string | undefined, string[]>();
    for (let i = 0; i < flat.length; i += 2) {
      const messageId = flat[i];
      const of = windowKey.startsWith('device:') ? (await this.record(messageId))?.profileKey : owner;
      const entries = byOwner.get(of) ?? [];
      entries.push(flat[i + 1], messageId);
      byOwner.set(of, entries);
    }
    for (const [of, entries] of byOwner) {
      const into = target.capKey(windowKey, of);
      await target.redis.zadd(into, 'NX', ...entries);
      if (ttl > 0) await target.redis.pexpire(into, ttl);
    }
    return true;
  }

  /** The Redis connection belongs to the caller. */
  async close(): Promise<void> {}
}

/**
 * Merges one key of a node into `into` on another connection: a string if the target has none, a hash's
 * missing fields, a set's or a sorted set's missing members; with the source's time to live. Whether
 * there was anything to copy.
 */
async function mergeKey(from: Redis, key: string, to: RedisClient, into: string): Promise<boolean> {
  const [type, ttl] = await Promise.all([from.type(key), from.pttl(key)]);
  const expire = async () => {
    if (ttl > 0) await to.pexpire(into, ttl);
  };
  switch (type) {
    case 'string': {
      const value = await from.getBuffer(key);
      if (value === null) return false;
      if (ttl > 0) await to.set(into, value, 'PX', ttl, 'NX');
      else await to.set(into, value, 'NX');
      return true;
    }
    case 'hash': {
      const fields = await from.hgetall(key);
      const pipeline = to.pipeline();
      for (const [field, value] of Object.entries(fields)) pipeline.hsetnx(into, field, value);
      await pipeline.exec();
      await expire();
      return true;
    }
    case 'set': {
      const members = await from.smembers(key);
      if (members.length > 0) await to.sadd(into, ...members);
      await expire();
      return members.length > 0;
    }
    case 'zset': {
      const flat = await from.zrange(key, '0', '-1', 'WITHSCORES');
      const entries: string[] = [];
      for (let i = 0; i < flat.length; i += 2) entries.push(flat[i + 1], flat[i]);
      if (entries.length > 0) await to.zadd(into, 'NX', ...entries);
      await expire();
      return entries.length > 0;
    }
    default:
      return false;
  }
}
