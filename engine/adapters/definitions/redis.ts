import type { RedisClient } from '../redis-connection.ts';
import type { JsonObject } from '../../../model/json.ts';
import {
  changeStatus,
  type DefinitionKind,
  type DefinitionStore,
  type DefinitionSummary,
  type DefinitionVersion,
  liveOf,
  nextDraft,
  type PublishExpectation,
} from '../../../ports/definitions.ts';

/*
 * Data layout, every key under `prefix`:
 *   def:<kind>:<id>  hash  version number -> the DefinitionVersion as JSON (versions 1..HLEN)
 *   defs:<kind>      set   the ids of that kind
 * Every write is a compare-and-set of one version (the CAS script): the decision is made on the value
 * read, and written only if that value is still there, otherwise read again and decide again. So of
 * concurrent publishes of one draft exactly one succeeds, and a save never lands in a version that has
 * been published meanwhile. (WATCH/MULTI would not do: the connection is shared with other callers.)
 */

// KEYS: definition hash, id set. ARGV: version, value expected now ('' = absent), new value, id.
// Returns 1 when written, 0 when the version no longer holds the expected value.
const CAS = `
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1
`;

interface Scripts {
  tidelineDefinitionCas(...keysAndArgs: (string | number)[]): Promise<number>;
}

export class RedisDefinitionStore implements DefinitionStore {
  readonly adapter = 'redis';
  private readonly redis: RedisClient;
  private readonly scripts: Scripts;
  private readonly prefix: string;

  constructor(options: { redis: RedisClient; prefix: string }) {
    this.redis = options.redis;
    this.scripts = options.redis as unknown as Scripts;
    this.prefix = options.prefix;
  }

  async init(): Promise<void> {
    this.redis.defineCommand('tidelineDefinitionCas', { lua: CAS, numberOfKeys: 2 });
  }

  /** The Redis connection belongs to the caller. */
  async close(): Promise<void> {}

  async saveDraft(
    kind: DefinitionKind,
    id: string,
    document: JsonObject,
    now: number,
  ): Promise<DefinitionVersion> {
    for (;;) {
      const count = await this.redis.hlen(this.hashKey(kind, id));
      const json = count > 0 ? await this.redis.hget(this.hashKey(kind, id), String(count)) : null;
      const next = nextDraft(json === null ? null : parse(json), kind, id, document, now);
      // Editing the newest version expects it unchanged; a new version expects nothing there yet.
      if (await this.swap(next, next.version === count ? json : null)) return next;
    }
  }

  async publish(
    kind: DefinitionKind,
    id: string,
    version: number,
    now: number,
    expected?: PublishExpectation,
  ): Promise<DefinitionVersion> {
    for (;;) {
      const json = await this.read(kind, id, version);
      const next = changeStatus(
        json === null ? null : parse(json),
        { kind, id, version },
        'published',
        now,
        expected,
      );
      if (await this.swap(next, json)) return next;
    }
  }

  async archive(kind: DefinitionKind, id: string, version: number, now: number): Promise<DefinitionVersion> {
    for (;;) {
      const json = await this.read(kind, id, version);
      const next = changeStatus(json === null ? null : parse(json), { kind, id, version }, 'archived', now);
      if (await this.swap(next, json)) return next;
    }
  }

  async get(kind: DefinitionKind, id: string, version: number): Promise<DefinitionVersion | null> {
    const json = await this.read(kind, id, version);
    return json === null ? null : parse(json);
  }

  async live(kind: DefinitionKind, id: string): Promise<DefinitionVersion | null> {
    return liveOf(await this.history(kind, id));
  }

  async history(kind: DefinitionKind, id: string): Promise<DefinitionVersion[]> {
    return sorted(await this.redis.hvals(this.hashKey(kind, id)));
  }

  async list(kind: DefinitionKind): Promise<DefinitionSummary[]> {
    const ids = (await this.redis.smembers(this.idsKey(kind))).sort();
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hvals(this.hashKey(kind, id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, values], i) => {
      if (error) throw error;
      const history = sorted(values as string[]);
      return { id: ids[i], newest: history[history.length - 1], live: liveOf(history)?.version ?? null };
    });
  }

  private async read(kind: DefinitionKind, id: string, version: number): Promise<string | null> {
    if (!Number.isSafeInteger(version) || version < 1) return null;
    return this.redis.hget(this.hashKey(kind, id), String(version));
  }

  /** Writes `next` if its version still holds `current` (null: does not exist yet). */
  private async swap(next: DefinitionVersion, current: string | null): Promise<boolean> {
    const written = await this.scripts.tidelineDefinitionCas(
      this.hashKey(next.kind, next.id),
      this.idsKey(next.kind),
      next.version,
      current ?? '',
      JSON.stringify(next),
      next.id,
    );
    return written === 1;
  }

  private hashKey(kind: DefinitionKind, id: string): string {
    return `${this.prefix}def:${kind}:${id}`;
  }
  private idsKey(kind: DefinitionKind): string {
    return `${this.prefix}defs:${kind}`;
  }
}

function parse(json: string): DefinitionVersion {
  return JSON.parse(json) as DefinitionVersion;
}

/** Oldest first. */
function sorted(values: string[]): DefinitionVersion[] {
  return values.map(parse).sort((a, b) => a.version - b.version);
}
