import type { JsonObject } from '../model/json.ts';

/*
 * Versioned definitions ("journeys as code"): segments, tag rules, the lifecycle config, journeys and
 * templates are JSON documents kept in numbered versions. A definition is identified by (kind, id);
 * its versions are numbered 1, 2, 3... by the store, never by the caller, and nothing is ever deleted
 * (the history is the audit trail).
 *
 *   draft ──publish──> published ──archive──> archived
 *     └────────────────archive────────────────────┘
 *
 * - At most one version is a draft, and it is always the newest: saving edits it in place, and once it
 *   is published or archived the next save starts a new version.
 * - A published version never changes again except to become archived. Several versions may be
 *   published at once: journey users in flight stay on the version they entered.
 * - The LIVE version is the highest-numbered version whose status is 'published'. Archiving the live
 *   version therefore makes the next lower published version live again, if there is one; to switch a
 *   definition off, archive every published version. An archived version is never revived: save a new
 *   draft (a copy of it) and publish that.
 *
 * Times are milliseconds passed in by the caller as `now`: the store never reads the clock.
 */

export type DefinitionKind =
  | 'segment'
  | 'tagRule'
  | 'lifecycle'
  | 'valueModel'
  | 'journey'
  | 'template'
  /** A journey's run state (running, paused, stopped): versioned, so pauses and resumes are audited. */
  | 'journeyState';
export const DEFINITION_KINDS: readonly DefinitionKind[] = [
  'segment',
  'tagRule',
  'lifecycle',
  'valueModel',
  'journey',
  'template',
  'journeyState',
];

/** What a definition id must look like. Callers validate ids; the adapters assume they did. */
export const DEFINITION_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export type DefinitionStatus = 'draft' | 'published' | 'archived';

export interface DefinitionVersion<T = JsonObject> {
  kind: DefinitionKind;
  id: string;
  /** 1, 2, 3... assigned by the store. */
  version: number;
  status: DefinitionStatus;
  document: T;
  createdAt: number;
  /** When the document was last saved; publishing and archiving do not change it. */
  updatedAt: number;
  publishedAt: number | null;
  archivedAt: number | null;
}

/** One definition as `list()` shows it. */
export interface DefinitionSummary {
  id: string;
  /** The highest-numbered version, whatever its status. */
  newest: DefinitionVersion;
  /** The live version's number: the highest published one; null when nothing is published. */
  live: number | null;
}

export interface PublishExpectation {
  /**
   * Publish only if the draft is still the one that was reviewed: its `updatedAt` must equal this,
   * otherwise a DefinitionConflict (someone saved the draft in the meantime).
   */
  ifDraftUpdatedAt?: number;
}

/** No such (kind, id, version): thrown by `publish` and `archive` (readers return null instead). */
export class DefinitionNotFound extends Error {
  override readonly name = 'DefinitionNotFound';
  constructor(
    readonly kind: DefinitionKind,
    readonly id: string,
    readonly version: number,
  ) {
    super(`${kind} ${id} version ${version} does not exist`);
  }
}

/** A status change the version's current status does not allow, or a draft that changed since it was read. */
export class DefinitionConflict extends Error {
  override readonly name = 'DefinitionConflict';
  constructor(
    readonly kind: DefinitionKind,
    readonly id: string,
    readonly version: number,
    message: string,
  ) {
    super(message);
  }
}

/** The port. Adapters: memory (optionally persisted to a file), Redis (ioredis), MongoDB (official driver). */
export interface DefinitionStore {
  readonly adapter: 'memory' | 'redis' | 'mongodb';
  /** Connects, creates indexes, loads what was persisted. */
  init(): Promise<void>;
  /** Finishes pending writes; connections passed in belong to the caller and stay open. */
  close(): Promise<void>;

  /**
   * If the newest version is a draft, replaces its document (same version number, `updatedAt = now`);
   * otherwise creates version newest + 1 as a draft (version 1 for a new definition). A published
   * document is therefore never changed by saving: a new draft version is created instead.
   */
  saveDraft(kind: DefinitionKind, id: string, document: JsonObject, now: number): Promise<DefinitionVersion>;
  /**
   * Makes a draft published (`publishedAt = now`), atomically: of concurrent publishes of one draft,
   * exactly one succeeds. DefinitionNotFound for an unknown version; DefinitionConflict if the version
   * is not a draft, or if `expected.ifDraftUpdatedAt` no longer matches.
   */
  publish(
    kind: DefinitionKind,
    id: string,
    version: number,
    now: number,
    expected?: PublishExpectation,
  ): Promise<DefinitionVersion>;
  /**
   * Makes a published or draft version archived (`archivedAt = now`). DefinitionNotFound for an
   * unknown version; DefinitionConflict if it is already archived.
   */
  archive(kind: DefinitionKind, id: string, version: number, now: number): Promise<DefinitionVersion>;

  /** One version, or null. */
  get(kind: DefinitionKind, id: string, version: number): Promise<DefinitionVersion | null>;
  /** The highest published version, or null when none is published. */
  live(kind: DefinitionKind, id: string): Promise<DefinitionVersion | null>;
  /** Every version, oldest first; empty for an unknown definition. */
  history(kind: DefinitionKind, id: string): Promise<DefinitionVersion[]>;
  /** One entry per id of this kind, ordered by id. */
  list(kind: DefinitionKind): Promise<DefinitionSummary[]>;
}

/*
 * The rules every adapter applies, kept here so they and their messages are the same everywhere.
 */

/** What `saveDraft` writes, given the newest version (null for a new definition). */
export function nextDraft(
  newest: DefinitionVersion | null,
  kind: DefinitionKind,
  id: string,
  document: JsonObject,
  now: number,
): DefinitionVersion {
  if (newest?.status === 'draft') return { ...newest, document, updatedAt: now };
  const version = (newest?.version ?? 0) + 1;
  return {
    kind,
    id,
    version,
    status: 'draft',
    document,
    createdAt: now,
    updatedAt: now,
    publishedAt: null,
    archivedAt: null,
  };
}

/**
 * What `publish` or `archive` writes, given the version as it is now (null if it does not exist);
 * throws DefinitionNotFound or DefinitionConflict when the change is not allowed.
 */
export function changeStatus(
  current: DefinitionVersion | null,
  target: { kind: DefinitionKind; id: string; version: number },
  to: 'published' | 'archived',
  now: number,
  expected: PublishExpectation = {},
): DefinitionVersion {
  const { kind, id, version } = target;
  if (!current) throw new DefinitionNotFound(kind, id, version);
  const conflict = (why: string) =>
    new DefinitionConflict(kind, id, version, `${kind} ${id} version ${version} ${why}`);
  if (to === 'archived') {
    if (current.status === 'archived') throw conflict('is already archived');
    return { ...current, status: 'archived', archivedAt: now };
  }
  if (current.status === 'published') throw conflict('is published; published versions never change');
  if (current.status === 'archived') throw conflict('is archived; archived versions cannot be published');
  const { ifDraftUpdatedAt } = expected;
  if (ifDraftUpdatedAt !== undefined && current.updatedAt !== ifDraftUpdatedAt) {
    throw conflict(
      `was saved again at ${current.updatedAt} (expected ${ifDraftUpdatedAt}); review it before publishing`,
    );
  }
  return { ...current, status: 'published', publishedAt: now };
}

/** The live version among these: the highest-numbered published one. */
export function liveOf(versions: readonly DefinitionVersion[]): DefinitionVersion | null {
  let live: DefinitionVersion | null = null;
  for (const v of versions) if (v.status === 'published' && (!live || v.version > live.version)) live = v;
  return live;
}
