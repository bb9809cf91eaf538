import { isDeepStrictEqual } from 'node:util';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../model/json.ts';
import type { Logger } from '../ports/logger.ts';
import { DefinitionConflict, type DefinitionKind, type DefinitionStore } from '../ports/definitions.ts';
import type { RuleFault } from '../rules/types.ts';
import type { SegmentDefinition } from '../segments/segment.ts';
import type { TagRuleDefinition } from '../segments/tag-rule.ts';
import { Workspace } from '../workspace/workspace.ts';
import { formatFault, locateFaults, parseDocumentText } from '../workspace/document-text.ts';
import { DOCUMENT_KINDS, NO_REFERENCES } from '../workspace/kinds.ts';
import { ConfigError } from './config.ts';
import type { ValueModelConfig } from '../segments/value-model-config.ts';
import type { LifecycleConfig } from '../lifecycle/config.ts';
import { contextOf, journeyContext } from '../journeys/context.ts';
import type { JourneyDefinition } from '../journeys/journey.ts';
import type { JourneyRunState } from '../journeys/journey-set.ts';
import type { TemplateDefinition } from '../templates/template.ts';

/** Reads and validates `<dir>/<folder>/*.json`; faults go to `problems` as `file:/pointer: message`. */
async function readDefinitions(
  dir: string,
  folder: string,
  validate: (doc: unknown) => RuleFault[],
  problems: string[],
): Promise<JsonObject[]> {
  const path = join(dir, folder);
  let files: string[] = [];
  try {
    files = (await readdir(path)).filter((f) => f.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const found: JsonObject[] = [];
  const ids = new Set<string>();
  for (const file of files) {
    const filePath = join(path, file);
    const text = await readFile(filePath, 'utf8');
    const parsed = parseDocumentText(text);
    if ('fault' in parsed) {
      problems.push(formatFault(filePath, parsed.fault));
      continue;
    }
    const doc = parsed.doc;
    const faults = locateFaults(text, validate(doc));
    for (const f of faults) problems.push(formatFault(filePath, f));
    if (faults.length > 0) continue;
    const definition = doc as JsonObject;
    if (ids.has(String(definition.id)))
      problems.push(`${filePath}:/id: another file in ${folder}/ has the id '${definition.id}'`);
    ids.add(String(definition.id));
    found.push(definition);
  }
  return found;
}

/** The document as it matters for "has it changed": without its version number and schema link. */
function content(doc: JsonObject): JsonObject {
  const { version: _version, $schema: _schema, ...rest } = doc;
  return rest;
}

/** The valid documents of a workspace folder by kind, and every fault as `file:/pointer: message`. */
export interface WorkspaceFolder {
  docs: Map<DefinitionKind, JsonObject[]>;
  problems: string[];
}

/**
 * Reads and validates a workspace folder. Journeys may name the folder's segments and templates and,
 * with `definitions`, those already in the store.
 */
export async function readWorkspace(dir: string, definitions?: DefinitionStore): Promise<WorkspaceFolder> {
  const problems: string[] = [];
  const docs = new Map<DefinitionKind, JsonObject[]>();
  // Kinds kept as a folder of files first (journeys last: they name the segments and templates before
  // them), then the single files at the workspace's root (the lifecycle config, the value model).
  for (const k of DOCUMENT_KINDS) {
    if (!('folder' in k.place)) continue;
    const extra = { segments: docs.get('segment'), templates: docs.get('template') };
    const known = !k.refers
      ? NO_REFERENCES
      : definitions
        ? await journeyContext(definitions, extra)
        : contextOf(extra);
    docs.set(k.kind, await readDefinitions(dir, k.place.folder, (doc) => k.validate(doc, known), problems));
  }
  for (const k of DOCUMENT_KINDS) {
    if (!('file' in k.place)) continue;
    const file = join(dir, k.place.file);
    try {
      const doc: unknown = JSON.parse(await readFile(file, 'utf8'));
      const faults = k.validate(doc, NO_REFERENCES);
      for (const f of faults) problems.push(`${file}:${f.pointer || '/'}: ${f.message}`);
      if (faults.length === 0) docs.set(k.kind, [doc as JsonObject]);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        problems.push(`${file}:/: ${(error as Error).message}`);
    }
  }
  return { docs, problems };
}

/**
 * "Journeys as code": publishes each file of a workspace folder whose content differs from the live
 * version of its definition (as a new version); identical ones change nothing. Any fault in any file
 * stops the start, listing every fault with its file and JSON pointer.
 */
export async function publishWorkspaceFiles(
  dir: string,
  definitions: DefinitionStore,
  now: number,
  logger: Logger,
): Promise<void> {
  const { docs: byKind, problems } = await readWorkspace(dir, definitions);
  const read = [...byKind].map(([kind, docs]) => ({ kind, docs }));
  if (problems.length > 0)
    throw new ConfigError(`the workspace in ${dir} has faults:\n${problems.join('\n')}`);
  for (const { kind, docs } of read) {
    for (const doc of docs) {
      const id = String(doc.id);
      const live = await definitions.live(kind, id);
      if (live && isDeepStrictEqual(content(live.document), content(doc))) continue;
      const draft = await definitions.saveDraft(kind, id, doc, now);
      // Another process starting on the same folder may have published this very content meanwhile:
      // then this draft is a copy, archived rather than published as a new version.
      const liveNow = await definitions.live(kind, id);
      if (
        liveNow &&
        liveNow.version < draft.version &&
        isDeepStrictEqual(content(liveNow.document), content(doc))
      ) {
        await definitions.archive(kind, id, draft.version, now).catch(() => undefined);
        continue;
      }
      const document = { ...doc, version: draft.version };
      if (doc.version !== draft.version) await definitions.saveDraft(kind, id, document, now);
      try {
        await definitions.publish(kind, id, draft.version, now);
        logger.info(
          { kind, id, version: draft.version },
          `published ${kind} ${id} version ${draft.version} from ${dir}`,
        );
      } catch (error) {
        // Another process starting on the same folder published it first.
        if (!(error instanceof DefinitionConflict)) throw error;
      }
    }
  }
}

/** The live versions of every definition, compiled. */
export async function workspaceFromStore(
  definitions: DefinitionStore,
  timezone: string,
  globalControlPercent = 0,
): Promise<Workspace> {
  const live = async <T>(kind: DefinitionKind): Promise<T[]> => {
    const summaries = await definitions.list(kind);
    const versions = await Promise.all(
      summaries.filter((s) => s.live !== null).map((s) => definitions.get(kind, s.id, s.live as number)),
    );
    return versions.filter((v) => v !== null).map((v) => v.document as unknown as T);
  };
  const [segments, tagRules, lifecycle, valueModel, journeys, states, templates] = await Promise.all([
    live<SegmentDefinition>('segment'),
    live<TagRuleDefinition>('tagRule'),
    definitions.live('lifecycle', 'lifecycle'),
    definitions.live('valueModel', 'value-model'),
    published<JourneyDefinition>(definitions, 'journey'),
    live<JourneyRunState & { id: string }>('journeyState'),
    live<TemplateDefinition>('template'),
  ]);
  return new Workspace({
    segments,
    tagRules,
    journeys,
    templates,
    journeyStates: Object.fromEntries(states.map(({ id, ...run }) => [id, run as JourneyRunState])),
    timezone,
    globalControl: globalControlPercent > 0 ? { from: 0, to: globalControlPercent * 100 } : null,
    ...(lifecycle ? { lifecycle: lifecycle.document as unknown as LifecycleConfig } : {}),
    ...(valueModel ? { valueModel: valueModel.document as unknown as ValueModelConfig } : {}),
  });
}

/** Every published version of every definition of a kind (users in flight stay on theirs). */
async function published<T>(definitions: DefinitionStore, kind: DefinitionKind): Promise<T[]> {
  const summaries = await definitions.list(kind);
  const histories = await Promise.all(summaries.map((s) => definitions.history(kind, s.id)));
  return histories
    .flat()
    .filter((v) => v.status === 'published')
    .map((v) => v.document as unknown as T);
}

/** A short fingerprint of what is live, to notice publications made by other processes. */
export async function liveFingerprint(definitions: DefinitionStore): Promise<string> {
  const parts: string[] = [];
  const kinds: DefinitionKind[] = [...DOCUMENT_KINDS.map((k) => k.kind), 'journeyState'];
  for (const kind of kinds) {
    for (const s of await definitions.list(kind)) parts.push(`${kind}/${s.id}@${s.live}`);
  }
  return parts.sort().join(',');
}
