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
interface AppliedDoc {
  _id: string;
  expireAt: Date;
}
interface CounterDoc {
  _id: string;
  scope: string;
  field: string;
  n: number;
}

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
        { key: { messageId: 1 }, unique: true },
        { key: { key: 1, timestamp: -1 } },
        { key: { key: 1, event: 1, timestamp: -1 } },
        { key: { expireAt: 1 }, expireAfterSeconds: 0 },
      ]),
      this.applied.createIndex({ expireAt: 1 }, { expireAfterSeconds: 0 }),
      this.counters.createIndex({ scope: 1 }, { name: 'scope' }),
    ]);
  }

  /** The client belongs to the caller. */
  async close(): Promise<void> {}

  async getProfiles(keys: readonly string[]): Promise<Map<string, Profile>> {
    const docs = await this.profiles.find({ _id: { $in: [...keys] } }).toArray();
    return new Map(docs.map((d) => [d._id, d.p]));
  }

  async appliedMessageIds(messageIds: readonly string[]): Promise<Set<string>> {
    // The TTL monitor runs once a minute, so expired markers may still be there.
    const live = { _id: { $in: [...messageIds] }, expireAt: { $gt: new Date(this.clock.now()) } };
    const docs = await this.applied.find(live, { projection: { _id: 1 } }).toArray();
    return new Set(docs.map((d) => d._id));
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
      await this.events.updateMany({ key: { $eq: absorbed.key } }, { $set: { key } }, { session });
    }

    const cutoff = now - this.options.eventRetentionMs;
    const fresh = c.events.filter((e) => e.timestamp >= cutoff);
    if (fresh.length > 0) {
      const ids = fresh.map((e) => e.messageId);
      const stored = await this.events
        .find({ messageId: { $in: ids } }, { session, projection: { messageId: 1 } })
        .toArray();
      const seen = new Set(stored.map((d) => d.messageId));
      const docs: EventDoc[] = [];
      for (const e of fresh) {
        if (seen.has(e.messageId)) continue;
        seen.add(e.messageId);
        docs.push({ ...e, key, expireAt: new Date(e.timestamp + this.options.eventRetentionMs) });
      }
      if (docs.length > 0) await this.events.insertMany(docs, { session, ordered: false });
    }

    if (c.messageIds.length > 0) {
      const expireAt = new Date(now + this.options.dedupeHorizonMs);
      const marks = c.messageIds.map((id) => ({
        updateOne: { filter: { _id: { $eq: id } }, update: { $set: { expireAt } }, upsert: true },
      }));
      await this.applied.bulkWrite(marks, { session, ordered: false });
    }

    // One document per counter: field names are free text, which MongoDB keys would restrict.
    const increments = Object.entries(c.counts ?? {}).flatMap(([scope, fields]) =>
      Object.entries(fields).map(([field, by]) => ({
        updateOne: {
          filter: { _id: { $eq: `${scope}\u0000${field}` } },
          update: { $inc: { n: by }, $setOnInsert: { scope, field } },
          upsert: true,
        },
      })),
    );
    if (increments.length > 0) await this.counters.bulkWrite(increments, { session, ordered: false });
  }

  async readCounters(scope: string): Promise<ReadonlyMap<string, number>> {
    const docs = await this.counters.find({ scope: { $eq: scope } }).toArray();
    return new Map(docs.map((d) => [d.field, d.n]));
  }
}
