import { type Collection, type MongoClient, MongoServerError } from 'mongodb';
import type { JsonObject } from '../../../model/json.ts';
import {
  changeStatus,
  type DefinitionKind,
  type DefinitionStatus,
  type DefinitionStore,
  type DefinitionSummary,
  type DefinitionVersion,
  nextDraft,
  type PublishExpectation,
} from '../../../ports/definitions.ts';

/**
 * One document per version. The definition's own document is kept as JSON text: the store never
 * looks inside it, and as text every key (`$`-prefixed, dotted) and every number round-trips exactly.
 */
interface VersionDoc {
  kind: DefinitionKind;
  id: string;
  version: number;
  status: DefinitionStatus;
  json: string;
  createdAt: number;
  updatedAt: number;
  publishedAt: number | null;
  archivedAt: number | null;
}

const isDuplicateKey = (error: unknown) => error instanceof MongoServerError && error.code === 11000;
const WITHOUT_ID = { projection: { _id: 0 } } as const;

/*
 * Collection `definitions`, unique on (kind, id, version). Status changes are conditional single-document
 * updates (`status: 'draft'` in the filter), so of concurrent publishes of one draft exactly one matches;
 * a new version is an insert the unique index refuses to a concurrent second. No transactions needed.
 * Filters compare with `$eq`, so nothing from a caller can become a query operator.
 */
export class MongoDefinitionStore implements DefinitionStore {
  readonly adapter = 'mongodb';
  private readonly versions: Collection<VersionDoc>;

  constructor(options: { client: MongoClient; dbName: string }) {
    this.versions = options.client.db(options.dbName).collection('definitions');
  }

  async init(): Promise<void> {
    await this.versions.createIndex({ kind: 1, id: 1, version: 1 }, { unique: true });
  }

  /** The client belongs to the caller. */
  async close(): Promise<void> {}

  async saveDraft(
    kind: DefinitionKind,
    id: string,
    document: JsonObject,
    now: number,
  ): Promise<DefinitionVersion> {
    for (;;) {
      const newest = await this.versions.findOne(definition(kind, id), {
        ...WITHOUT_ID,
        sort: { version: -1 },
      });
      const next = nextDraft(newest && toVersion(newest), kind, id, document, now);
      if (newest?.status === 'draft') {
        // Only while it is still a draft: a publish in between makes this save a new version instead.
        const edited = await this.versions.findOneAndUpdate(
          { ...definition(kind, id), version: { $eq: next.version }, status: { $eq: 'draft' } },
          { $set: { json: JSON.stringify(document), updatedAt: now } },
          { ...WITHOUT_ID, returnDocument: 'after' },
        );
        if (edited) return toVersion(edited);
      } else {
        const inserted = await this.versions.insertOne(toDoc(next)).catch((error: unknown) => {
          if (isDuplicateKey(error)) return null; // a concurrent save created this version first
          throw error;
        });
        if (inserted) return next;
      }
    }
  }

  async publish(
    kind: DefinitionKind,
    id: string,
    version: number,
    now: number,
    expected: PublishExpectation = {},
  ): Promise<DefinitionVersion> {
    const draft = { ...one(kind, id, version), status: { $eq: 'draft' as const } };
    const filter =
      expected.ifDraftUpdatedAt === undefined
        ? draft
        : { ...draft, updatedAt: { $eq: expected.ifDraftUpdatedAt } };
    for (;;) {
      const update = { $set: { status: 'published' as const, publishedAt: now } };
      const published = await this.versions.findOneAndUpdate(filter, update, {
        ...WITHOUT_ID,
        returnDocument: 'after',
      });
      if (published) return toVersion(published);
      // Throws the reason; if the version has appeared since (a concurrent first save), try again.
      changeStatus(await this.get(kind, id, version), { kind, id, version }, 'published', now, expected);
    }
  }

  async archive(kind: DefinitionKind, id: string, version: number, now: number): Promise<DefinitionVersion> {
    const filter = {
      ...one(kind, id, version),
      status: { $in: ['draft', 'published'] as DefinitionStatus[] },
    };
    for (;;) {
      const update = { $set: { status: 'archived' as const, archivedAt: now } };
      const archived = await this.versions.findOneAndUpdate(filter, update, {
        ...WITHOUT_ID,
        returnDocument: 'after',
      });
      if (archived) return toVersion(archived);
      changeStatus(await this.get(kind, id, version), { kind, id, version }, 'archived', now);
    }
  }

  async get(kind: DefinitionKind, id: string, version: number): Promise<DefinitionVersion | null> {
    const doc = await this.versions.findOne(one(kind, id, version), WITHOUT_ID);
    return doc && toVersion(doc);
  }

  async live(kind: DefinitionKind, id: string): Promise<DefinitionVersion | null> {
    const filter = { ...definition(kind, id), status: { $eq: 'published' as const } };
    const doc = await this.versions.findOne(filter, { ...WITHOUT_ID, sort: { version: -1 } });
    return doc && toVersion(doc);
  }

  async history(kind: DefinitionKind, id: string): Promise<DefinitionVersion[]> {
    const docs = await this.versions
      .find(definition(kind, id), { ...WITHOUT_ID, sort: { version: 1 } })
      .toArray();
    return docs.map(toVersion);
  }

  async list(kind: DefinitionKind): Promise<DefinitionSummary[]> {
    const rows = await this.versions
      .aggregate<{ _id: string; newest: VersionDoc; live: number | null }>([
        { $match: { kind: { $eq: kind } } },
        { $sort: { id: 1, version: -1 } },
        {
          $group: {
            _id: '$id',
            newest: { $first: '$$ROOT' },
            // $max ignores the nulls of versions that are not published.
            live: { $max: { $cond: [{ $eq: ['$status', 'published'] }, '$version', null] } },
          },
        },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    return rows.map((row) => ({ id: row._id, newest: toVersion(row.newest), live: row.live ?? null }));
  }
}

function definition(kind: DefinitionKind, id: string) {
  return { kind: { $eq: kind }, id: { $eq: id } };
}

function one(kind: DefinitionKind, id: string, version: number) {
  return { ...definition(kind, id), version: { $eq: version } };
}

function toDoc({ document, ...rest }: DefinitionVersion): VersionDoc {
  return { ...rest, json: JSON.stringify(document) };
}

function toVersion(doc: VersionDoc): DefinitionVersion {
  const { kind, id, version, status, json, createdAt, updatedAt, publishedAt, archivedAt } = doc;
  return {
    kind,
    id,
    version,
    status,
    document: JSON.parse(json) as JsonObject,
    createdAt,
    updatedAt,
    publishedAt,
    archivedAt,
  };
}
