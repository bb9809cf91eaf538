import { type JourneyContext, validateJourney } from '../journeys/validate.ts';
import { validateLifecycleConfig } from '../lifecycle/config.ts';
import type { DefinitionKind } from '../ports/definitions.ts';
import type { RuleFault } from '../rules/types.ts';
import { validateSegment } from '../segments/segment.ts';
import { validateTagRule } from '../segments/tag-rule.ts';
import { validateValueModel } from '../segments/value-model-config.ts';
import { validateTemplate } from '../templates/validate.ts';

/**
 * A kind of versioned workspace document: where it lives in a workspace folder and in the API, its
 * schema, what a user calls it, and how it is checked. The API, `tideline validate` and the workspace
 * loader all read this table.
 */
export interface DocumentKind {
  kind: DefinitionKind;
  /** What a user calls one, in messages. */
  noun: string;
  /** Its JSON Schema in schemas/, named by a document's `$schema`. */
  schema: string;
  /** Its place in a workspace folder: a folder of files (`segments/`), or one file at the root. */
  place: { folder: string } | { file: string };
  /** Its API collection: `/v1/<path>`. */
  path: string;
  /** A workspace-wide document with this one id (the lifecycle config): no id in its URL, no list. */
  singleton?: string;
  /** It names other documents (segments, templates), so it is checked against what exists. */
  refers?: true;
  /** Publishing one changes what profiles hold: every profile is recomputed. */
  recomputes?: true;
  /** Recognises a document that does not name its schema. */
  looksLike(doc: Record<string, unknown>): boolean;
  validate(doc: unknown, known: JourneyContext): RuleFault[];
}

/** Nothing to refer to: for documents that name no other. */
export const NO_REFERENCES: JourneyContext = {
  segments: new Set(),
  templates: new Map(),
  channels: new Set(),
};

/** Every kind, in the order a workspace is loaded: journeys last, since they name the others. */
export const DOCUMENT_KINDS: readonly DocumentKind[] = [
  {
    kind: 'segment',
    noun: 'segment',
    schema: 'segment.schema.json',
    place: { folder: 'segments' },
    path: 'segments',
    recomputes: true,
    looksLike: (d) => 'condition' in d,
    validate: (doc) => validateSegment(doc).faults,
  },
  {
    kind: 'tagRule',
    noun: 'tag rule',
    schema: 'tag-rule.schema.json',
    place: { folder: 'tag-rules' },
    path: 'tag-rules',
    recomputes: true,
    looksLike: (d) => 'conditions' in d && 'event' in d,
    validate: (doc) => validateTagRule(doc).faults,
  },
  {
    kind: 'lifecycle',
    noun: 'lifecycle config',
    schema: 'lifecycle.schema.json',
    place: { file: 'lifecycle.json' },
    path: 'lifecycle',
    singleton: 'lifecycle',
    recomputes: true,
    looksLike: (d) => d.id === 'lifecycle',
    validate: (doc) => validateLifecycleConfig(doc).faults,
  },
  {
    kind: 'valueModel',
    noun: 'value model',
    schema: 'value-model.schema.json',
    place: { file: 'value-model.json' },
    path: 'value-model',
    singleton: 'value-model',
    looksLike: (d) => d.id === 'value-model',
    validate: (doc) => validateValueModel(doc),
  },
  {
    kind: 'template',
    noun: 'template',
    schema: 'template.schema.json',
    place: { folder: 'templates' },
    path: 'templates',
    looksLike: (d) => 'channel' in d && 'content' in d,
    validate: (doc) => validateTemplate(doc).faults,
  },
  {
    kind: 'journey',
    noun: 'journey',
    schema: 'journey.schema.json',
    place: { folder: 'journeys' },
    path: 'journeys',
    refers: true,
    looksLike: (d) => 'steps' in d && 'trigger' in d,
    validate: (doc, known) => validateJourney(doc, known).faults,
  },
];

/** The kind of a document: by the schema it names, else by its shape (the singletons first). */
export function documentKindOf(doc: Record<string, unknown>): DocumentKind | null {
  if (typeof doc.$schema === 'string') {
    const name = doc.$schema.split('/').pop();
    return DOCUMENT_KINDS.find((k) => k.schema === name) ?? null;
  }
  const others = DOCUMENT_KINDS.filter((k) => k.singleton === undefined).reverse();
  const singletons = DOCUMENT_KINDS.filter((k) => k.singleton !== undefined);
  return [...singletons, ...others].find((k) => k.looksLike(doc)) ?? null;
}
