import { type ClientSession, type Collection, type MongoClient, MongoServerError } from 'mongodb';
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
  type ScanFilter,
} from '../../../ports/store.ts';
import type { Profile } from '../../../model/profile.ts';
import { bucketOf } from '../redis-slots.ts';

interface ProfileDoc {
  _id: string;
  v: number;
  p: Profile;
}
interface EventDoc extends StoredEvent {
  /** The profile key the event belongs to. */
  key: string;
  /** TTL index: event time + retention. */
  expireAt: Date;
}
interface AliasDoc {
  _id: string;
  userId: string;
}
/**
 * A message applied to a profile, remembered for the dedupe horizon in the profile's bucket (which
 * names no one, so an erased profile leaves its markers). `_id` is `<bucket>:<messageId>`.
 */
interface AppliedDoc {
  _id: string;
  bucket: number;
  messageId: string;
  expireAt: Date;
}

/** The buckets dedupe markers are kept in (the shard key of `applied`). */
const MARKER_BUCKETS = 1024;
/** One bucket's share of a report counter: a commit adds to its profile's bucket's share. */
interface CounterDoc {
  scope: string;
  bucket: number;
  field: string;
  n: number;
}

/**
 * How many shares each report counter is kept in. Every commit of a journey on a day moves the same
 * counters: in one document each, concurrent commits would conflict on it and retry; spread over this
 * many by the profile's key, they rarely meet, while a scope's read sums a few thousand documents.
 */
export const COUNTER_BUCKETS = 64;

/** Thrown inside a transaction to abort it; reported as a conflict. */
const CONFLICT = new Error('version conflict');

const isDuplicateKey = (error: unknown) => error instanceof MongoServerError && error.code === 11000;

/*
 * Each commit is one multi-document transaction (profile compare-and-set, absorbed profile, events,
 * dedupe markers), which needs a replica set (a single-node one is enough), MongoDB's recommended
 * production deployment anyway. Filters only ever compare with `$eq` / `$in`, so nothing from user
 * input can become a query operator.
 *
 * The due index is the profile's own `p.checkAt` (a partial index over the profiles whose `checkAt` is a
 * number), so every commit and erase keeps it with the document, and profiles written before it existed
 * are indexed when init() creates it.
 *
 * Fit for sharding (docs/operations.md names the shard keys): every document a commit writes is found by
 * its profile's key (profiles by `_id`, events by `key`, unique per profile on `{ key, messageId }` so
 * that the unique index leads with the shard key, dedupe markers by the profile's bucket), and no
 * document is written by every commit of a journey: report counters are kept in COUNTER_BUCKETS shares,
 * summed on read.
 */
export class MongoStore implements Store {
  readonly kind = 'mongodb';
  private readonly client: MongoClient;
  private readonly profiles: Collection<ProfileDoc>;
  private readonly events: Collection<EventDoc>;
  private readonly aliases: Collection<AliasDoc>;
  private readonly applied: Collection<AppliedDoc>;
  private readonly counters: Collection<CounterDoc>;
  private readonly clock: { now(): number };

  constructor(
    private readonly options: StoreOptions & {
      client: MongoClient;
      dbName: string;
      clock?: { now(): number };
    },
  ) {
    this.client = options.client;
    // Optional fields left undefined (`late`, `name`...) are omitted rather than stored as null.
    const db = options.client.db(options.dbName, { ignoreUndefined: true });
    this.profiles = db.collection('profiles');
    this.events = db.collection('events');
    this.aliases = db.collection('aliases');
    this.applied = db.collection('applied');
    this.counters = db.collection('counters');
    this.clock = options.clock ?? Date;
  }

  async init(): Promise<void> {
    await Promise.all([
      this.profiles.createIndex(
        { 'p.checkAt': 1, _id: 1 },
        { name: 'due', partialFilterExpression: { 'p.checkAt': { $type: 'number' } } },
      ),
      this.profiles.createIndex({ 'p.segments': 1, _id: 1 }, { name: 'segments' }),
      this.events.createIndexes([
        { key: { key: 1, messageId: 1 }, name: 'key_messageId', unique: true },
        { key: { key: 1, timestamp: -1 } },
        { key: { key: 1, event: 1, timestamp: -1 } },
        { key: { expireAt: 1 }, expireAfterSeconds: 0 },
      ]),
      this.applied.createIndexes([
        { key: { bucket: 1, messageId: 1 }, name: 'bucket_messageId' },
        // For a message id whose profiles the caller does not name.
        { key: { messageId: 1 }, name: 'messageId' },
        { key: { expireAt: 1 }, expireAfterSeconds: 0 },
      ]),
      this.counters.createIndex({ scope: 1, bucket: 1, field: 1 }, { name: 'share', unique: true }),
    ]);
    // Written by earlier versions: a unique message id across all profiles (which no sharded
    // collection can keep) and counters by scope alone. Their documents stay readable.
    await Promise.all([
      dropIndexIfThere(this.events, 'messageId_1'),
      dropIndexIfThere(this.counters, 'scope'),
    ]);
  }

  /** The client belongs to the caller. */
  async close(): Promise<void> {}

  async getProfiles(keys: readonly string[]): Promise<Map<string, Profile>> {
    const docs = await this.profiles.find({ _id: { $in: [...keys] } }).toArray();
    return new Map(docs.map((d) => [d._id, d.p]));
  }

  /**
   * Markers are kept with the profile a message was applied to: the ids whose profiles `profiles` names
   * are looked for there (on their shards), the others by message id alone. A marker of an id on any
   * profile means it was applied.
   */
  async appliedMessageIds(
    messageIds: readonly string[],
    profiles?: ReadonlyMap<string, readonly string[]>,
  ): Promise<Set<string>> {
    if (messageIds.length === 0) return new Set();
    const named = messageIds.filter((id) => (profiles?.get(id)?.length ?? 0) > 0);
    const unnamed = messageIds.filter((id) => (profiles?.get(id)?.length ?? 0) === 0);
    const buckets = [
      ...new Set(named.flatMap((id) => (profiles?.get(id) ?? []).map((k) => bucketOf(k, MARKER_BUCKETS)))),
    ];
    const clauses: object[] = [];
    if (named.length > 0) clauses.push({ bucket: { $in: buckets }, messageId: { $in: named } });
    if (unnamed.length > 0) clauses.push({ messageId: { $in: unnamed } });
    // Markers of earlier versions, one per message id (`_id`), until they expire (the dedupe horizon).
    clauses.push({ _id: { $in: [...messageIds] } });
    // The TTL monitor runs once a minute, so expired markers may still be there.
    const live = { $or: clauses, expireAt: { $gt: new Date(this.clock.now()) } };
    const docs = await this.applied
      .find(live as Parameters<Collection<AppliedDoc>['find']>[0], { projection: { _id: 1, messageId: 1 } })
      .toArray();
    return new Set(docs.map((d) => d.messageId ?? d._id));
  }

  async commit(commits: readonly ProfileCommit[]): Promise<CommitResult> {
    const wrong = commits.find((c) => c.profile.version !== c.expectedVersion + 1);
    if (wrong) throw new Error(`commit ${wrong.key}: profile.version must be expectedVersion + 1`);
    const now = this.clock.now();
    const applied = await Promise.all(commits.map((c) => this.commitOne(c, now)));
    return { conflicts: commits.filter((_, i) => !applied[i]).map((c) => c.key) };
  }

  async getAliases(anonymousIds: readonly string[]): Promise<Map<string, string>> {
    const docs = await this.aliases.find({ _id: { $in: [...anonymousIds] } }).toArray();
    return new Map(docs.map((d) => [d._id, d.userId]));
  }

  async linkAlias(anonymousId: string, userId: string): Promise<string> {
    const filter = { _id: { $eq: anonymousId } };
    const linked = await this.aliases
      .findOneAndUpdate(filter, { $setOnInsert: { userId } }, { upsert: true, returnDocument: 'after' })
      .catch(async (error: unknown) => {
        if (isDuplicateKey(error)) return this.aliases.findOne(filter); // lost a concurrent upsert
        throw error;
      });
    if (!linked) throw new Error(`linkAlias ${anonymousId}: no alias document`);
    return linked.userId;
  }

  async recentEvents(key: string, limit: number, since = 0): Promise<StoredEvent[]> {
    if (limit <= 0) return [];
    const cutoff = Math.max(since, this.clock.now() - this.options.eventRetentionMs);
    return this.events
      .find(
        { key: { $eq: key }, timestamp: { $gte: cutoff } },
        { sort: { timestamp: -1 }, limit, projection: { _id: 0, key: 0, expireAt: 0 } },
      )
      .toArray();
  }

  async eraseProfile(key: string): Promise<boolean> {
    return this.client.withSession((session) =>
      session.withTransaction(async () => {
        const doc = await this.profiles.findOneAndDelete({ _id: { $eq: key } }, { session });
        const events = await this.events.deleteMany({ key: { $eq: key } }, { session });
        if (doc?.p.userId) {
          // Only the links to this user: an anonymous id may since have been linked to someone else.
          const mine = { _id: { $in: doc.p.anonymousIds }, userId: { $eq: doc.p.userId } };
          await this.aliases.deleteMany(mine, { session });
        }
        return doc !== null || events.deletedCount > 0;
      }),
    );
  }

  /** From collection metadata: constant time, exact except after an unclean shutdown. */
  async countProfiles(): Promise<number> {
    return this.profiles.estimatedDocumentCount();
  }

  /**
   * By `_id` (the profile key) in the collection's order, binary UTF-8 unless it was created with a
   * collation; the cursor is the last key of the page. Each page is one query on the `_id` index, so
   * exactly once for every profile that exists for the whole scan.
   */
  /** With a segment, the query asks for its members (the `segments` index). */
  async scanProfiles(cursor: string | null, limit: number, filter?: ScanFilter): Promise<ProfilePage> {
    checkScanLimit(limit);
    if (cursor !== null && typeof cursor !== 'string')
      throw new TypeError('scanProfiles: cursor must be a string');
    const after = {
      ...(cursor === null ? {} : { _id: { $gt: cursor } }),
      ...(filter?.segment === undefined ? {} : { 'p.segments': filter.segment }),
    };
    // One more than asked, to know whether this page is the last.
    const docs = await this.profiles
      .find(after, { sort: { _id: 1 }, limit: limit + 1, projection: { p: 1 } })
      .toArray();
    const page = docs.slice(0, limit);
    return {
      profiles: page.map((d) => d.p),
      cursor: docs.length > limit ? page[page.length - 1]._id : null,
    };
  }

  /** One query on the partial `due` index, sorted by (checkAt, _id). */
  async dueProfiles(before: number, limit: number, after?: DueProfile): Promise<DueProfile[]> {
    checkDueArguments(before, limit, after);
    // Each clause repeats `$type: 'number'`, the index's filter, so the planner may use it.
    const filter = after
      ? {
          $or: [
            { 'p.checkAt': { $type: 'number' as const, $gt: after.at, $lte: before } },
            {
              'p.checkAt': { $type: 'number' as const, $eq: after.at, $lte: before },
              _id: { $gt: after.key },
            },
          ],
        }
      : { 'p.checkAt': { $type: 'number' as const, $lte: before } };
    const docs = await this.profiles
      .find(filter, { sort: { 'p.checkAt': 1, _id: 1 }, limit, projection: { 'p.checkAt': 1 } })
      .toArray();
    return docs.map((d) => ({ key: d._id, at: d.p.checkAt as number }));
  }

  private async commitOne(c: ProfileCommit, now: number): Promise<boolean> {
    try {
      await this.client.withSession((session) =>
        session.withTransaction(() => this.writeCommit(c, now, session)),
      );
      return true;
    } catch (error) {
      if (error === CONFLICT) return false;
      throw error;
    }
  }

  private async writeCommit(c: ProfileCommit, now: number, session: ClientSession): Promise<void> {
    const { key, expectedVersion, profile } = c;
    if (expectedVersion === 0) {
      await this.profiles
        .insertOne({ _id: key, v: profile.version, p: profile }, { session })
        .catch((error) => {
          throw isDuplicateKey(error) ? CONFLICT : error;
        });
    } else {
      const current = { _id: { $eq: key }, v: { $eq: expectedVersion } };
      const replaced = await this.profiles.replaceOne(
        current,
        { v: profile.version, p: profile },
        { session },
      );
      if (replaced.matchedCount === 0) throw CONFLICT;
    }

    if (c.absorb) {
      const absorbed = c.absorb;
      const gone =
        absorbed.expectedVersion === 0
          ? (await this.profiles.countDocuments({ _id: { $eq: absorbed.key } }, { session })) === 0
          : (
              await this.profiles.deleteOne(
                { _id: { $eq: absorbed.key }, v: { $eq: absorbed.expectedVersion } },
                { session },
              )
            ).deletedCount === 1;
      if (!gone) throw CONFLICT;
      // Copied and deleted rather than re-keyed: a multi-document update cannot change a shard key.
      const moved = await this.events
        .find({ key: { $eq: absorbed.key } }, { session, projection: { _id: 0 } })
        .toArray();
      await this.insertEvents(key, moved, session);
      await this.events.deleteMany({ key: { $eq: absorbed.key } }, { session });
    }

    const cutoff = now - this.options.eventRetentionMs;
    await this.insertEvents(
      key,
      c.events.filter((e) => e.timestamp >= cutoff),
      session,
    );

    if (c.messageIds.length > 0) {
      const expireAt = new Date(now + this.options.dedupeHorizonMs);
      const bucket = bucketOf(key, MARKER_BUCKETS);
      const marks = c.messageIds.map((id) => ({
        updateOne: {
          filter: { _id: { $eq: `${bucket}:${id}` }, bucket: { $eq: bucket } },
          update: { $set: { expireAt }, $setOnInsert: { messageId: id } },
          upsert: true,
        },
      }));
      await this.applied.bulkWrite(marks, { session, ordered: false });
    }

    // One document per counter share: field names are free text, which MongoDB keys would restrict.
    const share = bucketOf(key, COUNTER_BUCKETS);
    const increments = Object.entries(c.counts ?? {}).flatMap(([scope, fields]) =>
      Object.entries(fields).map(([field, by]) => ({
        updateOne: {
          filter: { scope: { $eq: scope }, bucket: { $eq: share }, field: { $eq: field } },
          update: { $inc: { n: by } },
          upsert: true,
        },
      })),
    );
    if (increments.length > 0) await this.counters.bulkWrite(increments, { session, ordered: false });
  }

  /** Adds events to a profile's history, each message id once. */
  private async insertEvents(
    key: string,
    events: readonly StoredEvent[],
    session: ClientSession,
  ): Promise<void> {
    if (events.length === 0) return;
    const ids = events.map((e) => e.messageId);
    const stored = await this.events
      .find({ key: { $eq: key }, messageId: { $in: ids } }, { session, projection: { messageId: 1 } })
      .toArray();
    const seen = new Set(stored.map((d) => d.messageId));
    const docs: EventDoc[] = [];
    for (const e of events) {
      if (seen.has(e.messageId)) continue;
      seen.add(e.messageId);
      const { key: _key, expireAt: _expireAt, ...event } = e as Partial<EventDoc> & StoredEvent;
      docs.push({ ...event, key, expireAt: new Date(e.timestamp + this.options.eventRetentionMs) });
    }
    if (docs.length > 0) await this.events.insertMany(docs, { session, ordered: false });
  }

  /** The scope's shares summed (documents of earlier versions, one per field, have no bucket). */
  async readCounters(scope: string): Promise<ReadonlyMap<string, number>> {
    const docs = await this.counters
      .find({ scope: { $eq: scope } }, { projection: { _id: 0, field: 1, n: 1 } })
      .toArray();
    const counters = new Map<string, number>();
    for (const d of docs) counters.set(d.field, (counters.get(d.field) ?? 0) + d.n);
    return counters;
  }
}

async function dropIndexIfThere(
  collection: { dropIndex(name: string): Promise<unknown> },
  name: string,
): Promise<void> {
  try {
    await collection.dropIndex(name);
  } catch (error) {
    // 27: IndexNotFound; 26: NamespaceNotFound (no collection yet).
    if (!(error instanceof MongoServerError && (error.code === 27 || error.code === 26))) throw error;
  }
}
