/**
 * Reading a scope's folded report counters on a Redis Cluster (the RedisStore's `r{<scope>}` hashes),
 * with the scopes already parsed kept in process while they do not change.
 *
 * A report reads one scope per day of its range, and most of those days are closed: their counts no
 * longer move. Parsing a day's hash (HGETALL, then a field at a time into a Map) was most of a long
 * report's time, so each scope carries a version (`r{<scope>}:v`, in the scope's slot), replaced by
 * every script that changes its totals (the fold, a migration's addition). A read sends the version it
 * holds; the script answers "unchanged" with the version alone, or the version and the whole hash, in
 * one atomic step, so a reader never keeps counts under a version they are not of. A late event for a
 * closed day changes that day's totals at its fold, hence its version, and the next read parses it
 * again: reports stay exact.
 *
 * A version is the number of changes and the server time of the last (`<n>.<seconds>.<microseconds>`),
 * so totals deleted and built again (the count starting over) do not meet an old version.
 */
import type { RedisClient } from '../redis-connection.ts';

/** Lua: `bumpVersion(key)` gives a scope's totals a new version. Put before a script that calls it. */
export const BUMP_VERSION = `
local function bumpVersion(key)
  local t = redis.call('TIME')
  local n = tonumber(string.match(redis.call('GET', key) or '0', '^%d+') or '0') + 1
  redis.call('SET', key, n .. '.' .. t[1] .. '.' .. t[2])
end
`;

// KEYS: the scope's totals, its version. ARGV: the version the reader holds ('' for none). Returns
// {version} when that is the current one, else {version, field, count, ...}; a version of '' (no
// totals) is not to be kept. Totals written before versions existed get one here.
const READ_TOTALS = `${BUMP_VERSION}
local v = redis.call('GET', KEYS[2])
if not v then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {''} end
  bumpVersion(KEYS[2])
  v = redis.call('GET', KEYS[2])
end
if v == ARGV[1] then return {v} end
local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, v)
return reply
`;

/** The key of a scope's version, next to (in the slot of) its totals. */
export const versionKey = (totalsKey: string): string => `${totalsKey}:v`;

/** How many counter fields the cache keeps at most (about 100 bytes each): a year of a busy journey. */
export const CACHED_FIELDS = 500_000;

interface Cached {
  version: string;
  counters: ReadonlyMap<string, number>;
}

interface ReadScript {
  tidelineReadTotals(totalsKey: string, versionKey: string, held: string): Promise<string[]>;
}

export class ReportCounterReader {
  private readonly cache = new Map<string, Cached>();
  private fields = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly maxFields = CACHED_FIELDS,
  ) {}

  init(): void {
    this.redis.defineCommand('tidelineReadTotals', { lua: READ_TOTALS, numberOfKeys: 2 });
  }

  /** A scope's totals (`totalsKey`), from the cache when its version has not moved. Do not change it. */
  async read(totalsKey: string): Promise<ReadonlyMap<string, number>> {
    const held = this.cache.get(totalsKey);
    const flat = await (this.redis as unknown as ReadScript).tidelineReadTotals(
      totalsKey,
      versionKey(totalsKey),
      held?.version ?? '',
    );
    const version = flat[0];
    if (held && flat.length === 1 && version === held.version) {
      // Most recently used last: the oldest go first when the cache is full.
      this.cache.delete(totalsKey);
      this.cache.set(totalsKey, held);
      return held.counters;
    }
    const counters = new Map<string, number>();
    for (let i = 1; i < flat.length; i += 2) counters.set(flat[i], Number(flat[i + 1]));
    this.forget(totalsKey);
    if (version !== '' && counters.size <= this.maxFields) {
      this.cache.set(totalsKey, { version, counters });
      this.fields += counters.size;
      for (const [key, old] of this.cache) {
        if (this.fields <= this.maxFields) break;
        this.forget(key, old);
      }
    }
    return counters;
  }

  private forget(key: string, cached = this.cache.get(key)): void {
    if (!cached) return;
    this.cache.delete(key);
    this.fields -= cached.counters.size;
  }
}
