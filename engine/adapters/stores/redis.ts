import { randomUUID } from 'node:crypto';
import { Cluster, type ChainableCommander } from 'ioredis';
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
import { type Profile, profileKeyForAnonymous } from '../../../model/profile.ts';
import { bucketOf, bucketTag, keySlot } from '../redis-slots.ts';
import { BUMP_VERSION, ReportCounterReader, versionKey } from './redis-report-counters.ts';
import { compressProfile, decompressProfile } from './profile-codec.ts';

/*
 * Data layout. On one Redis every key is under `prefix`; on a cluster (`buckets` > 1) every key of a
 * profile is under `prefix{<bucket>}:`, its bucket's hash tag (redis-slots.ts), and so are the bucket's
 * shares of the structures below marked "per bucket", which are summed or merged on read. So each commit
 * is one script call on one slot, and the buckets spread over the cluster's shards.
 *   p:<profileKey>  string   `<version>:<checkAt>:<expiresFor>:<oldest>:z<compressProfile()>`: the scripts
 *                            read the header, the profile is deflated against a preset dictionary (~250
 *                            bytes instead of ~1 KB). The header spares a commit the commands whose answer
 *                            it knows: the timer as indexed in `due`, the event time the history's TTL was
 *                            set for, the oldest event kept (empty: none). Values of earlier versions,
 *                            `<version>:z…`, are read as they are and get the header at their next commit.
 *   h:<profileKey>  zset     messageId -> event timestamp (the history's order and retention)
 *   e:<profileKey>  hash     messageId -> event JSON
 *   mw:<window>     hash     messageId -> "1", the ids of the messages applied in a window of half the
 *                            dedupe horizon (window = floor(now / (horizon / 2))); expires a horizon after
 *                            the window ends, and a lookup reads the windows of the last horizon. One HSET
 *                            a commit rather than a key a message. An expired window is freed whole: on one
 *                            busy Redis, `lazyfree-lazy-expire yes` frees it in the background. Per bucket:
 *                            in the bucket of the profile the message was applied to. (Before: a key
 *                            `m:<messageId>` a message, still looked up on one Redis, where data of earlier
 *                            versions may hold them.)
 *   aliases         hash     anonymousId -> userId; per bucket: in the bucket of the anonymous profile
 *   profiles        string   number of profiles, kept by the scripts (per bucket)
 *   keys            zset     every profileKey, score 0 (so in byte order), kept by the scripts: what
 *                            scanProfiles pages through (ZRANGE BYLEX), ~100 bytes a profile (per bucket)
 *   due             zset     profileKey -> its checkAt (ms), for the profiles with a re-check timer, kept
 *                            by the scripts: what dueProfiles pages through (the sweeper) (per bucket)
 *   due:built       string   set once init() has indexed the timers of profiles written before `due`
 *   r:<scope>       hash     report counters of a journey's day (`j:<id>:<day>`) or the workspace's (`w:<day>`), kept by the
 *                            commit script (conversions/counters.ts names the fields). On one Redis only; on a
 *                            cluster a commit adds to its bucket's r:delta, which reads fold into r{<scope>}:
 *   r:delta         hash     `<scope>\n<field>` -> count, the bucket's counts not yet folded (per bucket)
 *   r:folding       hash     the bucket's fold in progress: r:delta as it was taken, and `#` -> its number (per bucket)
 *   r:folds         string   the number of the bucket's last fold (per bucket)
 *   r{<scope>}      hash     only on a cluster: the scope's folded counters, in the scope's own slot (not a bucket's)
 *   r{<scope>}:at   hash     bucket -> number of its last fold added to r{<scope>}, so a fold is added once
 *   r{<scope>}:v    string   the version of r{<scope>}, new at each change (redis-report-counters.ts)
 *   s:<profileKey>  string   only on a cluster, while the profile is being merged into one of another
 *                            bucket: `<moveId>\n<sealedAt>\n<target profileKey>` (see `move`)
 *   x:<profileKey>  string   only on a cluster, in the target's bucket: `landed:<moveId>` once the merge
 *                            of that (absorbed) profile was committed, `void:<moveId>` if it was given up
 *   counted:<receipt> string only where `tideline migrate` added a scope's counters (addCountersOnce):
 *                            says the addition was made (on a cluster `r{<scope>}:counted:<receipt>`, in its slot)
 * h: and e: expire together once their newest event leaves the retention window. Needs Redis >= 6.2.
 *
 * Why an index rather than SCAN MATCH p:*: SCAN walks the whole keyspace (histories, a dedupe marker per
 * message, BullMQ's keys, other prefixes), so its pages are mostly empty and a pass costs as much as the
 * largest of those; it returns keys in no useful order and may return one twice. The index pages in
 * O(log n + page), by key, each profile once, for ~100 bytes a profile (about 416 -> 520 in all).
 */

// KEYS: profile, history, events, counter, index, due, seal, receipt (or the seal again),
//       [absorbed profile, history, events, seal,] report counter hashes..., [markers of this window]
// ARGV: expectedVersion, value, retention cutoff, markers' ttl ms or '' (already set), absorbed expectedVersion or '', profileKey,
//       absorbed profileKey or '', checkAt or '' (none), number of counter hashes h, number of counts n,
//       moveId or '' (the second step of a merge across buckets: the receipt must not name it yet; one
//       of an earlier move of the same profile is stale and overwritten), number of message ids m,
//       '1' where seals may exist (a cluster) else '', the history's expiry slack ms,
//       then (hash 1..h, field, by) per count, then the m message ids, then (messageId, timestamp, event JSON)
//       per event.
// Returns 1, or 0 for a conflict (nothing written). A sealed profile (being merged away) is a conflict.
const COMMIT = `
local function version(key)
  local v = redis.call('GET', key)
  return v and tonumber(string.match(v, '^%d+')) or 0
end
local sealable = ARGV[13] == '1'
local current = redis.call('GET', KEYS[1])
if (current and tonumber(string.match(current, '^%d+')) or 0) ~= tonumber(ARGV[1]) then return 0 end
if sealable and redis.call('EXISTS', KEYS[7]) == 1 then return 0 end
local absorbing = ARGV[5] ~= ''
if absorbing and (version(KEYS[9]) ~= tonumber(ARGV[5]) or (sealable and redis.call('EXISTS', KEYS[12]) == 1)) then
  return 0
end
if ARGV[11] ~= '' then
  local receipt = redis.call('GET', KEYS[8])
  if receipt == 'landed:' .. ARGV[11] or receipt == 'void:' .. ARGV[11] then return 0 end
  redis.call('SET', KEYS[8], 'landed:' .. ARGV[11])
end

-- What the stored value's header says (see HEADER), unless it predates it or a merge adds a history.
local oldAt, expiresFor, oldest
local known = false
if current and not absorbing then
  local _, at, e, o = string.match(current, '^(%d+):(%-?%d*):(%-?%d*):(%-?%d*):z')
  if at then
    known = true
    oldAt, expiresFor, oldest = at, tonumber(e), tonumber(o)
  end
end
-- A new profile with no history left under its keys: the events below are all of it.
local fresh = not current and not absorbing and redis.call('EXISTS', KEYS[2], KEYS[3]) == 0
if ARGV[1] == '0' then
  redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[5], 0, ARGV[6])
end
local markers = 9
if absorbing then
  markers = 13
  if redis.call('DEL', KEYS[9]) == 1 then
    redis.call('DECR', KEYS[4])
    redis.call('ZREM', KEYS[5], ARGV[7])
  end
  redis.call('ZREM', KEYS[6], ARGV[7])
  -- Its stored events that the target lacks, a few commands for all of them.
  local moved = redis.call('HGETALL', KEYS[11])
  for from = 1, #moved, 2000 do
    local ids = {}
    for i = from, math.min(from + 1999, #moved), 2 do ids[#ids + 1] = moved[i] end
    local ats = redis.call('ZMSCORE', KEYS[10], unpack(ids))
    local there = redis.call('HMGET', KEYS[3], unpack(ids))
    local fields, scores = {}, {}
    for j, id in ipairs(ids) do
      if ats[j] and not there[j] then
        fields[#fields + 1] = id
        fields[#fields + 1] = moved[from + 2 * j - 1]
        scores[#scores + 1] = ats[j]
        scores[#scores + 1] = id
      end
    end
    if #fields > 0 then
      redis.call('HSET', KEYS[3], unpack(fields))
      redis.call('ZADD', KEYS[2], unpack(scores))
    end
  end
  redis.call('DEL', KEYS[10], KEYS[11])
end
if not known or oldAt ~= ARGV[8] then
  if ARGV[8] == '' then
    redis.call('ZREM', KEYS[6], ARGV[6])
  else
    redis.call('ZADD', KEYS[6], ARGV[8], ARGV[6])
  end
end

local hashes = markers - 1
markers = markers + tonumber(ARGV[9])
local counted = 15 + 3 * tonumber(ARGV[10])
for i = 15, counted - 1, 3 do
  redis.call('HINCRBY', KEYS[hashes + tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
end

-- The events not stored yet (the first of an id), a few commands for all of them rather than two each.
local cutoff = tonumber(ARGV[3])
local ids = counted
counted = counted + tonumber(ARGV[12])
local kept = {}
for i = counted, #ARGV, 3 do
  if tonumber(ARGV[i + 1]) >= cutoff then kept[#kept + 1] = i end
end
local seen = {}
local added
for from = 1, #kept, 1000 do
  local names = {}
  for j = from, math.min(from + 999, #kept) do names[#names + 1] = ARGV[kept[j]] end
  local stored = fresh and {} or redis.call('HMGET', KEYS[3], unpack(names))
  local fields, scores = {}, {}
  for j = 1, #names do
    local i = kept[from + j - 1]
    if not stored[j] and not seen[ARGV[i]] then
      seen[ARGV[i]] = true
      fields[#fields + 1] = ARGV[i]
      fields[#fields + 1] = ARGV[i + 2]
      scores[#scores + 1] = ARGV[i + 1]
      scores[#scores + 1] = ARGV[i]
      local at = tonumber(ARGV[i + 1])
      if not added or at > added then added = at end
      if not oldest or at < oldest then oldest = at end
    end
  end
  if #fields > 0 then
    redis.call('HSET', KEYS[3], unpack(fields))
    redis.call('ZADD', KEYS[2], unpack(scores))
  end
end
-- Events that left the retention window go; the history expires once its newest one has left it, give
-- or take the slack (the TTL is set for the newest event plus the slack, then left until a newer one).
if not fresh and (not known or (oldest and oldest < cutoff)) then
  local expired = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. ARGV[3], 'BYSCORE')
  for _, id in ipairs(expired) do redis.call('HDEL', KEYS[3], id) end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3]) end
  oldest = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2])
  if not oldest then expiresFor = nil end
end
if not known and not fresh then
  added = tonumber(redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2])
  expiresFor = nil
end
if added and (not expiresFor or added >= expiresFor) then
  expiresFor = added + tonumber(ARGV[14])
  local ttl = math.max(1, math.floor(expiresFor - cutoff))
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
redis.call('SET', KEYS[1], ARGV[1] + 1 .. ':' .. ARGV[8] .. ':' .. (expiresFor or '') .. ':' .. (oldest or '') .. ':z' .. ARGV[2])

if counted > ids then
  local marked = {}
  for i = ids, counted - 1 do
    marked[#marked + 1] = ARGV[i]
    marked[#marked + 1] = '1'
  end
  redis.call('HSET', KEYS[markers], unpack(marked))
  if ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[markers], ARGV[4]) end
end
return 1
`;

// The first step of a merge across buckets, in the absorbed profile's bucket: seals the profile (its own
// commits then conflict) unless it moved on, and answers its history to carry over. A profile already
// sealed for the same target keeps its seal and moveId (a retried merge); for another one it conflicts.
// KEYS: profile, seal, history, events. ARGV: expectedVersion, new moveId, target profileKey, now.
// Returns false, or moveId followed by (messageId, timestamp, event JSON) per stored event.
const SEAL = `
local v = redis.call('GET', KEYS[1])
if not v or tonumber(string.match(v, '^%d+')) ~= tonumber(ARGV[1]) then return false end
local id = ARGV[2]
local seal = redis.call('GET', KEYS[2])
if seal then
  local sid, _, target = string.match(seal, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
  if target ~= ARGV[3] then return false end
  id = sid
else
  redis.call('SET', KEYS[2], id .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[3])
end
local reply = { id }
local history = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
for i = 1, #history, 2 do
  local event = redis.call('HGET', KEYS[4], history[i])
  if event then
    reply[#reply + 1] = history[i]
    reply[#reply + 1] = history[i + 1]
    reply[#reply + 1] = event
  end
end
return reply
`;

// The last step of a merge across buckets, in the absorbed profile's bucket: deletes it if it is still
// sealed by this move. KEYS: profile, seal, history, events, counter, index, due. ARGV: moveId, profileKey.
const FINISH = `
local seal = redis.call('GET', KEYS[2])
if not seal or string.sub(seal, 1, #ARGV[1] + 1) ~= ARGV[1] .. '\\n' then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('DECR', KEYS[5])
  redis.call('ZREM', KEYS[6], ARGV[2])
end
redis.call('ZREM', KEYS[7], ARGV[2])
return 1
`;

// Gives up a merge that has not landed (its second step then conflicts). KEYS: receipt. ARGV: moveId,
// ttl seconds. Returns the receipt, which says whether the merge landed or is void.
const VOID = `
local receipt = redis.call('GET', KEYS[1])
if receipt == 'landed:' .. ARGV[1] then return receipt end
redis.call('SET', KEYS[1], 'void:' .. ARGV[1], 'EX', ARGV[2])
return 'void:' .. ARGV[1]
`;

// KEYS: key. ARGV: prefix. Deletes the key if its value starts with the prefix.
const DEL_IF_PREFIX = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// KEYS: aliases hash. ARGV: anonymousId, userId. Deletes the alias if it points to that user.
const UNLINK_ALIAS = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

// Deletes only if the profile is still at the version the caller read its anonymousIds from (-1 otherwise),
// and only the aliases that point to this profile's user.
// KEYS: profile, history, events, aliases (on a cluster, where they lie in other slots, the seal again:
// its aliases are unlinked before, and no anonymousIds are passed), counter, index, due, seal.
// ARGV: version, userId, profileKey, anonymousIds...
const ERASE = `
local v = redis.call('GET', KEYS[1])
if (v and tonumber(string.match(v, '^%d+')) or 0) ~= tonumber(ARGV[1]) then return -1 end
local erased = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('DEL', KEYS[8])
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
// With `exact` (a bucket's share of the index, where `after` usually lies in another bucket), the entries
// of after's score up to its key in byte order are skipped too, so that the merged pages skip none.
// KEYS: due. ARGV: before ('+inf' allowed), limit, after's at or '', after's profileKey, exact ('1' or '').
// Returns member, score, member, score... of at most `limit` entries with a score <= before.
const DUE = `
local function bytesNotAfter(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a <= #b
end
local start = 0
if ARGV[3] ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[4])
  if score and tonumber(score) == tonumber(ARGV[3]) then
    start = redis.call('ZRANK', KEYS[1], ARGV[4]) + 1
  else
    start = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[3])
    if ARGV[5] == '1' then
      for _ = 1, redis.call('ZCARD', KEYS[1]) do
        local entry = redis.call('ZRANGE', KEYS[1], start, start, 'WITHSCORES')
        if #entry == 0 or tonumber(entry[2]) ~= tonumber(ARGV[3]) or not bytesNotAfter(entry[1], ARGV[4]) then
          break
        end
        start = start + 1
      end
    end
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

// Report counters on a cluster are added by each commit to its bucket's r:delta, and folded into one hash
// per scope when read, so a report reads a few keys rather than a scope's share in each of 1024 buckets.
// A fold takes a bucket's deltas aside under a new number (FOLD_TAKE), adds them to each scope's totals
// unless that scope already has this bucket's fold of that number (FOLD_ADD), then drops them (FOLD_DONE).
// A crash between the steps leaves the taken deltas, which the next fold adds again where they are missing.
// KEYS: delta, folding, folds. Returns [] or the fold in progress: '1' if it was just taken ('0' for one
// left by an earlier fold: the deltas since are still to take), then a flat hash with `#` its number.
const FOLD_TAKE = `
local fresh = '0'
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[2], '#', redis.call('INCR', KEYS[3]))
  fresh = '1'
end
local reply = redis.call('HGETALL', KEYS[2])
table.insert(reply, 1, fresh)
return reply
`;

// KEYS: the scope's totals, its fold numbers, its version (redis-report-counters.ts: a new one when the
// totals change). ARGV: (bucket, fold number, n, then n (field, by)) per bucket.
const FOLD_ADD = `${BUMP_VERSION}
local i = 1
local added = false
while i <= #ARGV do
  local n = tonumber(ARGV[i + 2])
  if tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0') < tonumber(ARGV[i + 1]) then
    for j = i + 3, i + 1 + 2 * n, 2 do redis.call('HINCRBY', KEYS[1], ARGV[j], ARGV[j + 1]) end
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    added = true
  end
  i = i + 3 + 2 * n
end
if added then bumpVersion(KEYS[3]) end
return 1
`;

// KEYS: folding. ARGV: fold number. Drops the fold once every scope has it.
const FOLD_DONE = `
if redis.call('HGET', KEYS[1], '#') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const RECENT = `
local ids = redis.call('ZRANGE', KEYS[1], '+inf', ARGV[1], 'BYSCORE', 'REV', 'LIMIT', 0, ARGV[2])
local events = {}
for i, id in ipairs(ids) do events[i] = redis.call('HGET', KEYS[2], id) end
return events
`;

// KEYS: receipt, counter hash[, its version on a cluster]. ARGV: (field, by) pairs. Adds them unless the
// receipt is there; sets it.
const ADD_ONCE = `${BUMP_VERSION}
if not redis.call('SET', KEYS[1], '1', 'NX') then return 0 end
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
if KEYS[3] then bumpVersion(KEYS[3]) end
return 1
`;

type Arg = string | number | Buffer;
/** The commands `init()` defines: ioredis adds them to the client and to its pipelines at runtime. */
interface Scripts {
  tidelineErase(...keysAndArgs: Arg[]): Promise<number>;
  tidelineDue(...keysAndArgs: Arg[]): Promise<string[]>;
  tidelineDueIndex(numberOfKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
  tidelineIndex(numberOfKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
  tidelineRecent(...keysAndArgs: Arg[]): Promise<(string | null)[]>;
  tidelineSeal(...keysAndArgs: Arg[]): Promise<string[] | null>;
  tidelineFinish(...keysAndArgs: Arg[]): Promise<number>;
  tidelineVoid(...keysAndArgs: Arg[]): Promise<string>;
  tidelineDelIfPrefix(...keysAndArgs: Arg[]): Promise<number>;
  tidelineUnlinkAlias(...keysAndArgs: Arg[]): Promise<number>;
  tidelineFoldTake(...keysAndArgs: Arg[]): Promise<string[]>;
  tidelineFoldAdd(...keysAndArgs: Arg[]): Promise<number>;
  tidelineFoldDone(...keysAndArgs: Arg[]): Promise<number>;
}
interface PipelineScripts {
  tidelineCommit(numberOfKeys: number, ...keysAndArgs: Arg[]): ChainableCommander;
  tidelineFoldTake(...keysAndArgs: Arg[]): ChainableCommander;
  tidelineFoldDone(...keysAndArgs: Arg[]): ChainableCommander;
}

const DAY_MS = 86_400_000;

/** How often a commit sets a marker window's expiry again (see `markerExpiryDue`). */
const MARKER_EXPIRY_REFRESH_MS = 60_000;

/** How long a merge across buckets may hold the absorbed profile sealed before a reader gives it up. */
const SEAL_LEASE_MS = 30_000;
/** How long a given-up merge's receipt is kept (its second step must find it and conflict). */
const VOID_RECEIPT_SECONDS = 7 * 86_400;

/** A score bound as Redis reads it (`+inf`, `-inf` or the number). */
function scoreArg(value: number): string {
  if (value === Infinity) return '+inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}

/** Byte order of UTF-8, Redis' order of members with equal scores. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function decodeProfile(value: Buffer): Profile {
  return decompressProfile(value.subarray(value.indexOf(':z') + 2));
}

interface Seal {
  moveId: string;
  at: number;
  target: string;
}

function parseSeal(value: string): Seal {
  const [moveId, at, ...target] = value.split('\n');
  return { moveId, at: Number(at), target: target.join('\n') };
}

/** `values` grouped by what `of` says, in first-seen order. */
function groupBy<T>(values: readonly T[], of: (value: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const value of values) {
    const key = of(value);
    const group = groups.get(key);
    if (group) group.push(value);
    else groups.set(key, [value]);
  }
  return groups;
}

export interface RedisStoreOptions extends StoreOptions {
  redis: RedisClient;
  prefix: string;
  clock?: { now(): number };
  /**
   * 1 (the default): one Redis, every key under `prefix`. More (CLUSTER_BUCKETS on a Redis Cluster):
   * every profile's keys under its bucket's hash tag. Part of the data layout: a store must always be
   * opened with the same number.
   */
  buckets?: number;
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly redis: RedisClient;
  private readonly scripts: Scripts;
  private readonly prefix: string;
  private readonly clock: { now(): number };
  private readonly buckets: number;
  /** On a cluster: the scopes' folded totals, read by version. */
  private readonly totals: ReportCounterReader;

  constructor(private readonly options: RedisStoreOptions) {
    this.redis = options.redis;
    this.scripts = options.redis as unknown as Scripts;
    this.prefix = options.prefix;
    this.clock = options.clock ?? Date;
    this.buckets = options.buckets ?? 1;
    if (!Number.isSafeInteger(this.buckets) || this.buckets < 1)
      throw new RangeError(`RedisStore: buckets must be an integer >= 1, got ${this.buckets}`);
    this.totals = new ReportCounterReader(this.redis);
  }

  async init(): Promise<void> {
    this.redis.defineCommand('tidelineCommit', { lua: COMMIT });
    this.redis.defineCommand('tidelineErase', { lua: ERASE, numberOfKeys: 8 });
    this.redis.defineCommand('tidelineIndex', { lua: INDEX });
    this.redis.defineCommand('tidelineDue', { lua: DUE, numberOfKeys: 1, readOnly: true });
    this.redis.defineCommand('tidelineDueIndex', { lua: DUE_INDEX });
    this.redis.defineCommand('tidelineRecent', { lua: RECENT, numberOfKeys: 2, readOnly: true });
    this.redis.defineCommand('tidelineSeal', { lua: SEAL, numberOfKeys: 4 });
    this.redis.defineCommand('tidelineFinish', { lua: FINISH, numberOfKeys: 7 });
    this.redis.defineCommand('tidelineVoid', { lua: VOID, numberOfKeys: 1 });
    this.redis.defineCommand('tidelineDelIfPrefix', { lua: DEL_IF_PREFIX, numberOfKeys: 1 });
    this.redis.defineCommand('tidelineUnlinkAlias', { lua: UNLINK_ALIAS, numberOfKeys: 1 });
    this.redis.defineCommand('tidelineFoldTake', { lua: FOLD_TAKE, numberOfKeys: 3 });
    this.redis.defineCommand('tidelineFoldAdd', { lua: FOLD_ADD, numberOfKeys: 3 });
    this.totals.init();
    this.redis.defineCommand('tidelineFoldDone', { lua: FOLD_DONE, numberOfKeys: 1 });
    // The bucketed layout has kept its indexes from its first write: nothing to rebuild.
    if (this.buckets === 1) {
      await this.rebuildIndex();
      await this.rebuildDueIndex();
    }
  }

  /** The Redis connection belongs to the caller. */
  async close(): Promise<void> {}

  /*
   * Moving a deployment to another layout (`tideline migrate`): what the Store port has no call for.
   */

  /**
   * Every scope that has report counters, in no order (SCAN on every master); on a cluster, those
   * whose counts were folded into their totals (any read of a scope folds it).
   */
  async counterScopes(): Promise<string[]> {
    const scopes = new Set<string>();
    const cluster = this.buckets > 1;
    const pattern = `${escapeGlob(this.prefix)}${cluster ? 'r{*}' : 'r:*'}`;
    await scanKeys(this.redis, pattern, async (_node, keys) => {
      for (const key of keys) {
        const rest = key.slice(this.prefix.length + 2);
        if (!cluster) scopes.add(rest);
        else if (rest.endsWith('}') && !rest.slice(0, -1).includes('}')) scopes.add(rest.slice(0, -1));
      }
    });
    return [...scopes];
  }

  /**
   * Adds counters to a scope once: `receipt` names the addition, and a second call with the same receipt
   * adds nothing. One script on one slot, so a crash leaves all of it or none. True when it added.
   */
  async addCountersOnce(
    scope: string,
    counters: readonly [string, number][],
    receipt: string,
  ): Promise<boolean> {
    // On a cluster a scope's totals are its folded hash, with the receipt in its slot.
    const [receiptKey, countersKey] =
      this.buckets === 1
        ? [`${this.prefix}counted:${receipt}`, this.countersKey(this.prefix, scope)]
        : [`${this.totalsKey(scope)}:counted:${receipt}`, this.totalsKey(scope)];
    const added =
      this.buckets === 1
        ? await this.redis.eval(ADD_ONCE, 2, receiptKey, countersKey, ...counters.flat())
        : await this.redis.eval(
            ADD_ONCE,
            3,
            receiptKey,
            countersKey,
            versionKey(countersKey),
            ...counters.flat(),
          );
    return added === 1;
  }

  async getProfiles(keys: readonly string[]): Promise<Map<string, Profile>> {
    const found = new Map<string, Profile>();
    if (keys.length === 0) return found;
    if (this.buckets === 1) {
      const values = await this.redis.mgetBuffer(keys.map((k) => this.profileKey(k)));
      values.forEach((value, i) => {
        if (value) found.set(keys[i], decodeProfile(value));
      });
      return found;
    }
    // One MGET per slot: the profiles and their seals.
    const sealed: [string, Profile, Seal][] = [];
    await Promise.all(
      [...groupBy(keys, (k) => this.slot(k)).values()].map(async (group) => {
        const values = await this.redis.mgetBuffer([
          ...group.map((k) => this.profileKey(k)),
          ...group.map((k) => this.sealKey(k)),
        ]);
        group.forEach((key, i) => {
          const value = values[i];
          if (!value) return;
          const seal = values[group.length + i];
          if (seal) sealed.push([key, decodeProfile(value), parseSeal(seal.toString())]);
          else found.set(key, decodeProfile(value));
        });
      }),
    );
    await Promise.all(
      sealed.map(async ([key, profile, seal]) => {
        if (await this.settleSeal(key, seal)) found.set(key, profile);
      }),
    );
    // In the order asked, as with one MGET.
    return new Map(keys.filter((k) => found.has(k)).map((k) => [k, found.get(k) as Profile]));
  }

  /**
   * Markers lie in the bucket of the profile a message was applied to: `profiles` says, for a message
   * id, which profiles those may be (the one it goes to now, the anonymous one of its anonymousId).
   * An id it does not name is looked for in every bucket.
   */
  async appliedMessageIds(
    messageIds: readonly string[],
    profiles?: ReadonlyMap<string, readonly string[]>,
  ): Promise<Set<string>> {
    if (messageIds.length === 0) return new Set();
    if (this.buckets === 1) {
      const applied = await this.markedIn(this.prefix, messageIds);
      const legacy = await this.redis.mget(messageIds.map((id) => `${this.prefix}m:${id}`));
      messageIds.forEach((id, i) => {
        if (legacy[i] !== null) applied.add(id);
      });
      return applied;
    }
    const bySlot = new Map<string, Set<string>>();
    for (const id of messageIds) {
      const keys = profiles?.get(id);
      const slots = keys && keys.length > 0 ? keys.map((k) => this.slot(k)) : this.allSlots();
      for (const slot of slots) {
        const ids = bySlot.get(slot);
        if (ids) ids.add(id);
        else bySlot.set(slot, new Set([id]));
      }
    }
    const applied = new Set<string>();
    await Promise.all(
      [...bySlot].map(async ([slot, set]) => {
        for (const id of await this.markedIn(slot, [...set])) applied.add(id);
      }),
    );
    return applied;
  }

  /** Which of the ids a slot's marker windows of the last dedupe horizon hold (one pipeline). */
  private async markedIn(slot: string, ids: readonly string[]): Promise<Set<string>> {
    const pipeline = this.redis.pipeline();
    for (const window of this.markerWindows().lookup) pipeline.hmget(this.markerKey(slot, window), ...ids);
    const applied = new Set<string>();
    for (const [error, found] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      (found as (string | null)[]).forEach((marker, i) => {
        if (marker !== null) applied.add(ids[i]);
      });
    }
    return applied;
  }

  /**
   * The marker window a commit now writes to and how long it lasts (a horizon after its end), and the
   * windows a lookup reads: every one that can hold a message applied within the last horizon.
   */
  private markerWindows(): { current: number; ttlMs: number; lookup: number[] } {
    const horizon = this.options.dedupeHorizonMs;
    const length = Math.max(1, Math.ceil(horizon / 2));
    const now = this.clock.now();
    const current = Math.floor(now / length);
    const lookup: number[] = [];
    for (let w = Math.floor((now - horizon) / length); w <= current; w++) lookup.push(w);
    return { current, ttlMs: Math.max(1, (current + 1) * length + horizon - now), lookup };
  }

  async commit(commits: readonly ProfileCommit[]): Promise<CommitResult> {
    if (commits.length === 0) return { conflicts: [] };
    const wrong = commits.find((c) => c.profile.version !== c.expectedVersion + 1);
    if (wrong) throw new Error(`commit ${wrong.key}: profile.version must be expectedVersion + 1`);
    const cutoff = this.clock.now() - this.options.eventRetentionMs;
    const moves = commits.filter((c) => c.absorb && this.slot(c.absorb.key) !== this.slot(c.key));
    const direct = commits.filter((c) => !moves.includes(c));
    // One pipeline per slot (a cluster runs a pipeline on one node); on one Redis, one pipeline.
    const groups = this.buckets === 1 ? [direct] : [...groupBy(direct, (c) => this.slot(c.key)).values()];
    const conflicts: string[] = [];
    await Promise.all([
      ...groups.map(async (group) => {
        if (group.length === 0) return;
        const pipeline = this.redis.pipeline();
        const scripts = pipeline as unknown as PipelineScripts;
        const expiring: (string | undefined)[] = [];
        for (const c of group) {
          const [keys, args, expires] = this.commitCall(c, cutoff);
          scripts.tidelineCommit(keys.length, ...keys, ...args);
          expiring.push(expires);
        }
        const replies = (await pipeline.exec()) ?? [];
        for (const [i, [error, applied]] of replies.entries()) {
          if (error) throw error;
          if (applied !== 1) conflicts.push(group[i].key);
          else this.markerExpirySet(expiring[i]);
        }
      }),
      ...moves.map(async (c) => {
        if (!(await this.move(c, cutoff))) conflicts.push(c.key);
      }),
    ]);
    return { conflicts };
  }

  /**
   * Marker windows this store has set the expiry of, with when: a window's expiry is a fixed time, so
   * one commit sets it and the next ones skip the command (re-set once a minute, should the key have
   * been deleted and made again without one). Only windows of the current one are kept.
   */
  private readonly markerExpiries = new Map<string, number>();
  private markerExpiryWindow = -1;

  /** Whether a commit writing to this marker window should set its expiry. */
  private markerExpiryDue(key: string, window: number): boolean {
    if (window !== this.markerExpiryWindow) {
      this.markerExpiries.clear();
      this.markerExpiryWindow = window;
    }
    const at = this.markerExpiries.get(key);
    return at === undefined || this.clock.now() - at >= MARKER_EXPIRY_REFRESH_MS;
  }

  private markerExpirySet(key: string | undefined): void {
    if (key !== undefined) this.markerExpiries.set(key, this.clock.now());
  }

  /**
   * The keys and arguments of one COMMIT call, and the marker window whose expiry it sets (to be noted
   * once the commit has landed).
   */
  private commitCall(
    c: ProfileCommit,
    cutoff: number,
    move?: { moveId: string; receipt: string; moved: Arg[] },
  ): [string[], Arg[], string | undefined] {
    const slot = this.slot(c.key);
    const absorb = move ? undefined : c.absorb;
    const keys = [
      this.profileKey(c.key),
      this.historyKey(c.key),
      this.eventsKey(c.key),
      this.counterKey(slot),
      this.indexKey(slot),
      this.dueKey(slot),
      this.sealKey(c.key),
      move ? move.receipt : this.sealKey(c.key),
    ];
    if (absorb) {
      keys.push(
        this.profileKey(absorb.key),
        this.historyKey(absorb.key),
        this.eventsKey(absorb.key),
        this.sealKey(absorb.key),
      );
    }
    // On one Redis a hash per scope; on a cluster the bucket's deltas, one field per scope and field.
    const scopes = Object.keys(c.counts ?? {});
    const bucketed = this.buckets > 1 && scopes.length > 0;
    if (bucketed) keys.push(this.deltaKey(slot));
    else for (const scope of scopes) keys.push(this.countersKey(slot, scope));
    const markers = this.markerWindows();
    let expires: string | undefined;
    if (c.messageIds.length > 0) {
      const markerKey = this.markerKey(slot, markers.current);
      keys.push(markerKey);
      if (this.markerExpiryDue(markerKey, markers.current)) expires = markerKey;
    }
    const counts: Arg[] = [];
    scopes.forEach((scope, i) => {
      for (const [field, by] of Object.entries(c.counts![scope])) {
        if (bucketed) counts.push(1, `${scope}\n${field}`, by);
        else counts.push(i + 1, field, by);
      }
    });
    const args: Arg[] = [
      c.expectedVersion,
      compressProfile(c.profile),
      cutoff,
      expires === undefined ? '' : markers.ttlMs,
      absorb ? absorb.expectedVersion : '',
      c.key,
      absorb ? absorb.key : '',
      dueAt(c.profile) ?? '',
      bucketed ? 1 : scopes.length,
      counts.length / 3,
      move ? move.moveId : '',
      c.messageIds.length,
      this.buckets > 1 ? '1' : '',
      Math.floor(Math.min(DAY_MS, this.options.eventRetentionMs / 10)),
      ...counts,
      ...c.messageIds,
      ...(move ? move.moved : []),
    ];
    for (const e of c.events) args.push(e.messageId, e.timestamp, JSON.stringify(e));
    return [keys, args, expires];
  }

  /**
   * A merge of a profile of another bucket, in steps that each touch one slot:
   * 1. seal the absorbed profile (its own commits conflict from then on) and read its history;
   * 2. commit the target with that history and write the receipt `landed:<moveId>` in the target's slot,
   *    in one script, unless a receipt is there already (then it conflicts);
   * 3. delete the absorbed profile if its seal is still this move's; 4. delete the receipt.
   * The receipt decides: a reader who finds a seal looks it up (`settleSeal`) and finishes a landed move
   * or, once the seal is older than its lease, makes it void, so a crash between any two steps neither
   * loses the absorbed profile nor merges it twice.
   */
  private async move(c: ProfileCommit, cutoff: number): Promise<boolean> {
    const absorbed = c.absorb as NonNullable<ProfileCommit['absorb']>;
    const sealed = await this.scripts.tidelineSeal(
      this.profileKey(absorbed.key),
      this.sealKey(absorbed.key),
      this.historyKey(absorbed.key),
      this.eventsKey(absorbed.key),
      absorbed.expectedVersion,
      randomUUID(),
      c.key,
      this.clock.now(),
    );
    if (sealed === null) return false;
    const [moveId, ...moved] = sealed;
    const receipt = this.receiptKey(c.key, absorbed.key);
    const [keys, args, expires] = this.commitCall(c, cutoff, { moveId, receipt, moved });
    const pipeline = this.redis.pipeline();
    (pipeline as unknown as PipelineScripts).tidelineCommit(keys.length, ...keys, ...args);
    const [[error, applied]] = (await pipeline.exec()) ?? [[new Error('commit: no reply'), 0]];
    if (error) throw error;
    // A conflict leaves the seal for the retry, which finds it and keeps its moveId.
    if (applied !== 1) return false;
    this.markerExpirySet(expires);
    await this.finishMove(absorbed.key, c.key, moveId);
    return true;
  }

  private async finishMove(absorbedKey: string, target: string, moveId: string): Promise<void> {
    const slot = this.slot(absorbedKey);
    await this.scripts.tidelineFinish(
      this.profileKey(absorbedKey),
      this.sealKey(absorbedKey),
      this.historyKey(absorbedKey),
      this.eventsKey(absorbedKey),
      this.counterKey(slot),
      this.indexKey(slot),
      this.dueKey(slot),
      moveId,
      absorbedKey,
    );
    await this.scripts.tidelineDelIfPrefix(this.receiptKey(target, absorbedKey), `landed:${moveId}`);
  }

  /** A sealed profile found by a read: whether it is still there (true) or its merge had landed. */
  private async settleSeal(key: string, seal: Seal): Promise<boolean> {
    const receiptKey = this.receiptKey(seal.target, key);
    let receipt = await this.redis.get(receiptKey);
    if (receipt === null && this.clock.now() - seal.at > SEAL_LEASE_MS) {
      receipt = await this.scripts.tidelineVoid(receiptKey, seal.moveId, VOID_RECEIPT_SECONDS);
    }
    if (receipt === `landed:${seal.moveId}`) {
      await this.finishMove(key, seal.target, seal.moveId);
      return false;
    }
    if (receipt === `void:${seal.moveId}`) {
      await this.scripts.tidelineDelIfPrefix(this.sealKey(key), `${seal.moveId}\n`);
    }
    return true;
  }

  async getAliases(anonymousIds: readonly string[]): Promise<Map<string, string>> {
    const aliases = new Map<string, string>();
    if (anonymousIds.length === 0) return aliases;
    await Promise.all(
      [...groupBy(anonymousIds, (id) => this.aliasesKey(id))].map(async ([hash, ids]) => {
        const userIds = await this.redis.hmget(hash, ...ids);
        userIds.forEach((userId, i) => {
          if (userId !== null) aliases.set(ids[i], userId);
        });
      }),
    );
    // In the order asked, as with one HMGET.
    return new Map(anonymousIds.filter((id) => aliases.has(id)).map((id) => [id, aliases.get(id) as string]));
  }

  /** One command when the id is not linked yet (the usual case); an alias erased in between is linked again. */
  async linkAlias(anonymousId: string, userId: string): Promise<string> {
    const hash = this.aliasesKey(anonymousId);
    for (;;) {
      if ((await this.redis.hsetnx(hash, anonymousId, userId)) === 1) return userId;
      const linked = await this.redis.hget(hash, anonymousId);
      if (linked !== null) return linked;
    }
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
    const slot = this.slot(key);
    let unlinked = 0;
    for (;;) {
      const value = await this.redis.getBuffer(this.profileKey(key));
      const profile = value ? decodeProfile(value) : null;
      const anonymousIds = profile?.anonymousIds ?? [];
      // On a cluster the aliases lie in their anonymous profiles' buckets: unlinked first, one by one,
      // so that a crash leaves the profile (and a retry finishes) rather than aliases to nobody.
      if (this.buckets > 1 && profile?.userId) {
        for (const id of anonymousIds) {
          unlinked += await this.scripts.tidelineUnlinkAlias(this.aliasesKey(id), id, profile.userId);
        }
      }
      const keys = [
        this.profileKey(key),
        this.historyKey(key),
        this.eventsKey(key),
        this.buckets === 1 ? this.aliasesKey('') : this.sealKey(key),
        this.counterKey(slot),
        this.indexKey(slot),
        this.dueKey(slot),
        this.sealKey(key),
      ];
      const erased = await this.scripts.tidelineErase(
        ...keys,
        profile?.version ?? 0,
        profile?.userId ?? '',
        key,
        ...(this.buckets === 1 ? anonymousIds : []),
      );
      if (erased >= 0) return erased + unlinked > 0;
    }
  }

  async countProfiles(): Promise<number> {
    const counts = await Promise.all(this.allSlots().map((slot) => this.redis.get(this.counterKey(slot))));
    return counts.reduce((sum, n) => sum + Number(n ?? 0), 0);
  }

  /**
   * By key in byte order (ZRANGE BYLEX on the index, then MGET); the cursor is the last key of the page.
   * Exactly once for every profile that exists for the whole scan. A page may come back short when
   * profiles are deleted between the two reads.
   *
   * On a cluster, a few keys from the cursor on are read from every bucket's index: all keys up to the
   * smallest last key of a bucket that had more are then known, and make the page (so it may hold fewer
   * than `limit`), rather than `limit` keys from each of a thousand buckets.
   */
  /** With a filter, `limit` bounds the profiles looked at (each is decoded, then filtered). */
  async scanProfiles(cursor: string | null, limit: number, filter?: ScanFilter): Promise<ProfilePage> {
    checkScanLimit(limit);
    // One more than asked, to know whether this page is the last.
    const each =
      this.buckets === 1 ? limit + 1 : Math.min(limit + 1, Math.ceil((2 * (limit + 1)) / this.buckets) + 2);
    const pages = await Promise.all(
      this.allSlots().map((slot) =>
        this.redis.zrange(
          this.indexKey(slot),
          cursor === null ? '-' : `(${cursor}`,
          '+',
          'BYLEX',
          'LIMIT',
          0,
          each,
        ),
      ),
    );
    let keys: string[];
    let more: boolean;
    if (pages.length === 1) {
      keys = pages[0];
      more = keys.length > limit;
    } else {
      // Beyond the smallest last key of a bucket that may have more, another bucket's keys are unknown.
      let bound: Buffer | undefined;
      for (const bucketPage of pages) {
        if (bucketPage.length < each) continue;
        const last = Buffer.from(bucketPage[bucketPage.length - 1]);
        if (bound === undefined || Buffer.compare(last, bound) < 0) bound = last;
      }
      const known = pages
        .flat()
        .map((key) => ({ key, bytes: Buffer.from(key) }))
        .filter((k) => bound === undefined || Buffer.compare(k.bytes, bound) <= 0)
        .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
        .map((k) => k.key);
      keys = known.slice(0, limit + 1);
      more = bound !== undefined || known.length > limit;
    }
    const page = keys.slice(0, limit);
    const profiles: Profile[] = [];
    if (page.length > 0) {
      const found = await this.getProfiles(page);
      for (const key of page) {
        const profile = found.get(key);
        if (profile && passes(profile, filter)) profiles.push(profile);
      }
    }
    return { profiles, cursor: more && page.length > 0 ? page[page.length - 1] : null };
  }

  /**
   * ZRANGE by rank on the due index (O(log n + limit)), in a script so that `after` is found atomically;
   * on a cluster in every bucket, the pages merged by (time, key).
   */
  async dueProfiles(before: number, limit: number, after?: DueProfile): Promise<DueProfile[]> {
    checkDueArguments(before, limit, after);
    const exact = this.buckets > 1 ? '1' : '';
    const replies = await Promise.all(
      this.allSlots().map((slot) =>
        this.scripts.tidelineDue(
          this.dueKey(slot),
          scoreArg(before),
          limit,
          after ? after.at : '',
          after ? after.key : '',
          exact,
        ),
      ),
    );
    const page: DueProfile[] = [];
    for (const reply of replies) {
      for (let i = 0; i < reply.length; i += 2) page.push({ key: reply[i], at: Number(reply[i + 1]) });
    }
    if (replies.length === 1) return page;
    return page.sort((a, b) => a.at - b.at || byBytes(a.key, b.key)).slice(0, limit);
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
        await this.scripts.tidelineDueIndex(keys.length + 1, this.dueKey(this.prefix), ...keys, ...args);
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
      this.redis.zcard(this.indexKey(this.prefix)),
      this.redis.get(this.counterKey(this.prefix)),
    ]);
    if (indexed === Number(counted ?? 0)) return;
    const profilePrefix = this.profileKey('');
    await scanKeys(this.redis, `${escapeGlob(profilePrefix)}*`, async (_, found) => {
      const keys = found.map((k) => k.slice(profilePrefix.length));
      await this.scripts.tidelineIndex(found.length + 1, this.indexKey(this.prefix), ...found, ...keys);
    });
  }

  /**
   * On a cluster, every count committed before the call is folded first: the reply is exact; the
   * totals are read through `totals`, which keeps the scopes that have not changed parsed.
   */
  async readCounters(scope: string): Promise<ReadonlyMap<string, number>> {
    if (this.buckets > 1) {
      await this.foldCounters();
      return this.totals.read(this.totalsKey(scope));
    }
    const key = this.countersKey(this.prefix, scope);
    // The flat reply, not ioredis' object: a journey's hash can hold hundreds of thousands of fields.
    const flat = (await this.redis.call('HGETALL', key)) as string[];
    const counters = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) counters.set(flat[i], Number(flat[i + 1]));
    return counters;
  }

  /** The fold running, and the one that will begin after it (which the readers arriving meanwhile join). */
  private folding: { running?: Promise<void>; next?: Promise<void> } = {};

  /**
   * Resolves once a fold that began after the call has finished. It begins a turn of the event loop
   * later, so the readers of one report (a counter scope a day) share it.
   */
  private foldCounters(): Promise<void> {
    if (this.folding.next) return this.folding.next;
    const before = this.folding.running?.catch(() => undefined) ?? Promise.resolve();
    const next = before
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(() => {
        this.folding.next = undefined;
        const running = this.foldAll().finally(() => {
          if (this.folding.running === running) this.folding.running = undefined;
        });
        this.folding.running = running;
        return running;
      });
    this.folding.next = next;
    return next;
  }

  /**
   * Every bucket's deltas taken aside, added to their scopes (one call per scope), then dropped; again
   * for the buckets where an earlier, unfinished fold was found instead of the deltas.
   */
  private async foldAll(buckets?: readonly number[]): Promise<void> {
    const slots = this.allSlots();
    const asked = buckets ?? slots.map((_, b) => b);
    const taken = await this.onEachMaster<string[]>(asked, (pipeline, b) =>
      pipeline.tidelineFoldTake(this.deltaKey(slots[b]), this.foldingKey(slots[b]), this.foldsKey(slots[b])),
    );
    const byScope = new Map<string, Arg[]>();
    const done: [number, string][] = [];
    const again: number[] = [];
    taken.forEach((flat, at) => {
      if (flat.length === 0) return;
      const bucket = asked[at];
      if (flat[0] === '0') again.push(bucket);
      const fields = new Map<string, Arg[]>();
      let number = '';
      for (let i = 1; i < flat.length; i += 2) {
        if (flat[i] === '#') {
          number = flat[i + 1];
          continue;
        }
        const cut = flat[i].indexOf('\n');
        const scope = flat[i].slice(0, cut);
        const list = fields.get(scope);
        if (list) list.push(flat[i].slice(cut + 1), flat[i + 1]);
        else fields.set(scope, [flat[i].slice(cut + 1), flat[i + 1]]);
      }
      for (const [scope, list] of fields) {
        const args = byScope.get(scope) ?? [];
        args.push(bucket, number, list.length / 2, ...list);
        byScope.set(scope, args);
      }
      done.push([bucket, number]);
    });
    await Promise.all(
      [...byScope].map(([scope, args]) =>
        this.scripts.tidelineFoldAdd(
          this.totalsKey(scope),
          `${this.totalsKey(scope)}:at`,
          versionKey(this.totalsKey(scope)),
          ...args,
        ),
      ),
    );
    const numbers = new Map(done);
    await this.onEachMaster([...numbers.keys()], (pipeline, b) =>
      pipeline.tidelineFoldDone(this.foldingKey(slots[b]), numbers.get(b) as string),
    );
    if (again.length > 0) await this.foldAll(again);
  }

  /**
   * One call per bucket, sent as one pipeline per master (the buckets grouped by the slot map the
   * client knows) rather than a command each; a group whose pipeline fails (the slots moved) is sent
   * call by call. The replies in the order of `buckets`.
   */
  private async onEachMaster<T>(
    buckets: readonly number[],
    call: (pipeline: PipelineScripts, bucket: number) => unknown,
  ): Promise<T[]> {
    const replies = new Array<T>(buckets.length);
    const groups = new Map<string, number[]>();
    const cluster = this.redis instanceof Cluster ? this.redis : null;
    const slots = this.allSlots();
    buckets.forEach((b, i) => {
      const owner = cluster ? (cluster.slots[keySlot(slots[b])]?.[0] ?? '') : '';
      const group = groups.get(owner);
      if (group) group.push(i);
      else groups.set(owner, [i]);
    });
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const send = async (indexes: number[]) => {
          const pipeline = this.redis.pipeline();
          for (const i of indexes) call(pipeline as unknown as PipelineScripts, buckets[i]);
          const results = (await pipeline.exec()) ?? [];
          results.forEach(([error, reply], j) => {
            if (error) throw error;
            replies[indexes[j]] = reply as T;
          });
        };
        try {
          await send(group);
        } catch {
          for (const i of group) await send([i]);
        }
      }),
    );
    return replies;
  }

  /** What a profile's keys start with: the prefix, and on a cluster its bucket's hash tag. */
  private slot(key: string): string {
    return this.buckets === 1 ? this.prefix : `${this.prefix}${bucketTag(bucketOf(key, this.buckets))}:`;
  }
  private allSlots(): string[] {
    if (this.buckets === 1) return [this.prefix];
    return Array.from({ length: this.buckets }, (_, b) => `${this.prefix}${bucketTag(b)}:`);
  }

  private profileKey(key: string): string {
    return `${this.slot(key)}p:${key}`;
  }
  private historyKey(key: string): string {
    return `${this.slot(key)}h:${key}`;
  }
  private eventsKey(key: string): string {
    return `${this.slot(key)}e:${key}`;
  }
  private sealKey(key: string): string {
    return `${this.slot(key)}s:${key}`;
  }
  /** In the target's slot, named after the absorbed profile. */
  private receiptKey(target: string, absorbed: string): string {
    return `${this.slot(target)}x:${absorbed}`;
  }
  /** In the bucket of the anonymous profile. */
  private aliasesKey(anonymousId: string): string {
    return `${this.buckets === 1 ? this.prefix : this.slot(profileKeyForAnonymous(anonymousId))}aliases`;
  }
  private countersKey(slot: string, scope: string): string {
    return `${slot}r:${scope}`;
  }
  private deltaKey(slot: string): string {
    return `${slot}r:delta`;
  }
  private foldingKey(slot: string): string {
    return `${slot}r:folding`;
  }
  private foldsKey(slot: string): string {
    return `${slot}r:folds`;
  }
  /** A scope's folded counters, hash-tagged by the scope: the scopes spread over the cluster. */
  private totalsKey(scope: string): string {
    return `${this.prefix}r{${scope}}`;
  }
  private markerKey(slot: string, window: number): string {
    return `${slot}mw:${window}`;
  }
  private counterKey(slot: string): string {
    return `${slot}profiles`;
  }
  private indexKey(slot: string): string {
    return `${slot}keys`;
  }
  private dueKey(slot: string): string {
    return `${slot}due`;
  }
  private dueBuiltKey(): string {
    return `${this.prefix}due:built`;
  }
}
