import { jsonBody } from './body.ts';
import express, { type Request, type Router } from 'express';
import fastJsonPatch from 'fast-json-patch';
import {
  type DefinitionKind,
  type DefinitionVersion,
  DefinitionConflict,
  DefinitionNotFound,
  type DefinitionStore,
  DEFINITION_ID,
} from '../ports/definitions.ts';
import type { JsonObject } from '../model/json.ts';
import type { RuleFault } from '../rules/types.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { InputError } from '../model/input-error.ts';
import { locateFaults, parseDocumentText } from '../workspace/document-text.ts';

/** A kind of versioned workspace document the API manages, with its validator. */
export interface DefinitionCollection {
  /** URL segment: `/v1/<path>`. */
  path: string;
  kind: DefinitionKind;
  /** What a user calls one, in messages. */
  noun: string;
  validate(doc: unknown): RuleFault[] | Promise<RuleFault[]>;
  /**
   * A workspace-wide document with this one id (the lifecycle config): served at `/v1/<path>`
   * itself, without an id in the URL and without a list.
   */
  singleton?: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function versionSummary(v: DefinitionVersion) {
  return {
    version: v.version,
    status: v.status,
    createdAt: iso(v.createdAt),
    updatedAt: iso(v.updatedAt),
    publishedAt: iso(v.publishedAt),
    archivedAt: iso(v.archivedAt),
  };
}

function versionView(v: DefinitionVersion) {
  return { id: v.id, ...versionSummary(v), document: v.document };
}

function positiveInt(value: unknown, pointer: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw InputError.invalid([{ pointer, message: 'must be a version number (1, 2, ...)' }]);
  return n;
}

function asHttpError(error: unknown): unknown {
  if (error instanceof DefinitionNotFound) return new InputError(404, 'not_found', error.message);
  if (error instanceof DefinitionConflict) return new InputError(409, 'conflict', error.message);
  return error;
}

/**
 * Versioned documents over HTTP: save a draft, list, show, diff two versions, publish, archive.
 * Published versions never change; saving after a publish creates the next version.
 */
export function definitionRoutes(
  keys: KeyRing,
  store: DefinitionStore,
  collection: DefinitionCollection,
  onPublished: (kind: DefinitionKind) => Promise<string | null>,
  recompute: (id: string) => Promise<JsonObject>,
  now: () => number,
): Router {
  const router = express.Router();
  const base = `/v1/${collection.path}`;
  const { singleton } = collection;
  const item = singleton === undefined ? `${base}/:id` : base;
  const read = requireScope(keys, 'read');
  const manage = requireScope(keys, 'manage');
  const json = jsonBody({ limit: '256kb', type: () => true });

  const idOf = (req: Request): string => {
    if (singleton !== undefined) return singleton;
    const id = String(req.params.id);
    if (!DEFINITION_ID.test(id)) throw new InputError(404, 'not_found', `no ${collection.noun} '${id}'`);
    return id;
  };

  /** Validates a body as the next draft of `id` (its `version` is the store's to assign) and saves it. */
  const save = async (body: unknown, pathId: string | null): Promise<DefinitionVersion> => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw InputError.invalid([
        { pointer: '', message: `body must be a ${collection.noun} document (a JSON object)` },
      ]);
    }
    const doc = { ...(body as JsonObject) };
    const faults: RuleFault[] = [];
    if (pathId !== null) {
      if (doc.id !== undefined && doc.id !== pathId) {
        const where = singleton === undefined ? 'as in the URL' : `(there is one ${collection.noun})`;
        faults.push({ pointer: '/id', message: `must be '${pathId}' ${where}, or absent` });
      }
      doc.id = pathId;
    }
    const id = typeof doc.id === 'string' ? doc.id : '';
    const history = DEFINITION_ID.test(id) ? await store.history(collection.kind, id) : [];
    const newest = history.at(-1);
    doc.version = newest?.status === 'draft' ? newest.version : (newest?.version ?? 0) + 1;
    faults.push(...(await collection.validate(doc)));
    if (faults.length > 0) throw InputError.invalid(faults);
    let saved = await store.saveDraft(collection.kind, id, doc, now());
    // Another save raced this one to a different number: store the document under the number it got.
    if (saved.version !== doc.version)
      saved = await store.saveDraft(collection.kind, id, { ...doc, version: saved.version }, now());
    return saved;
  };

  if (singleton === undefined)
    router.get(base, read, async (_req, res) => {
      const summaries = await store.list(collection.kind);
      res.json({
        [collection.path]: summaries.map((s) => ({
          id: s.id,
          name: s.newest.document.name ?? null,
          live: s.live,
          newest: { version: s.newest.version, status: s.newest.status, updatedAt: iso(s.newest.updatedAt) },
        })),
      });
    });

  if (singleton === undefined)
    router.post(base, manage, json, async (req, res) => {
      res.status(201).json(versionView(await save(req.body, null)));
    });

  // A document's text checked as a save would check it, without saving: each fault with its line and
  // column in that text, for editors. The version is the store's to assign, so it is never a fault.
  router.post(
    `${base}/validate`,
    read,
    express.text({ limit: '256kb', type: () => true }),
    async (req, res) => {
      const text = typeof req.body === 'string' ? req.body : '';
      const parsed = parseDocumentText(text);
      if ('fault' in parsed) return void res.json({ valid: false, faults: [parsed.fault] });
      const doc = parsed.doc;
      const draft =
        typeof doc === 'object' && doc !== null && !Array.isArray(doc)
          ? { ...(doc as JsonObject), version: 1, ...(singleton === undefined ? {} : { id: singleton }) }
          : doc;
      const faults = locateFaults(text, await collection.validate(draft));
      res.json({ valid: faults.length === 0, faults });
    },
  );

  router.put(item, manage, json, async (req, res) => {
    res.json(versionView(await save(req.body, idOf(req))));
  });

  router.get(item, read, async (req, res) => {
    const id = idOf(req);
    const history = await store.history(collection.kind, id);
    if (history.length === 0) throw new InputError(404, 'not_found', `no ${collection.noun} '${id}'`);
    const live = [...history].reverse().find((v) => v.status === 'published') ?? null;
    res.json({
      id,
      live: live ? versionView(live) : null,
      versions: history.map(versionSummary),
    });
  });

  router.get(`${item}/versions/:version`, read, async (req, res) => {
    const id = idOf(req);
    const version = await store.get(collection.kind, id, positiveInt(req.params.version, '/version'));
    if (!version)
      throw new InputError(
        404,
        'not_found',
        `no version ${req.params.version} of ${collection.noun} '${id}'`,
      );
    res.json(versionView(version));
  });

  router.get(`${item}/diff`, read, async (req, res) => {
    const id = idOf(req);
    const from = positiveInt(req.query.from, '/query/from');
    const to = positiveInt(req.query.to, '/query/to');
    const [a, b] = await Promise.all([
      store.get(collection.kind, id, from),
      store.get(collection.kind, id, to),
    ]);
    if (!a || !b)
      throw new InputError(404, 'not_found', `${collection.noun} '${id}' has no version ${!a ? from : to}`);
    // RFC 6902 operations: each `path` is a JSON pointer into the documents.
    res.json({ id, from, to, changes: fastJsonPatch.compare(a.document, b.document) });
  });

  for (const action of ['publish', 'archive'] as const) {
    router.post(`${item}/versions/:version/${action}`, manage, json, async (req, res) => {
      const id = idOf(req);
      const version = positiveInt(req.params.version, '/version');
      try {
        const changed =
          action === 'publish'
            ? await store.publish(collection.kind, id, version, now())
            : await store.archive(collection.kind, id, version, now());
        const job = await onPublished(collection.kind);
        res.json({ ...versionView(changed), ...(job ? { recompute: await recompute(job) } : {}) });
      } catch (error) {
        throw asHttpError(error);
      }
    });
  }
  return router;
}
