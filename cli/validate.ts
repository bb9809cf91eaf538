import { validateChannels } from '../channels/config.ts';
import { templateNote } from '../templates/limits.ts';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type JourneyContext, journeyNote } from '../journeys/validate.ts';
import { DOCUMENT_KINDS, documentKindOf } from '../workspace/kinds.ts';
import { validateCondition } from '../rules/validate.ts';
import type { RuleFault } from '../rules/types.ts';
import { SEND_CHANNELS } from '../model/channels.ts';
import { locateFaults, parseDocumentText } from '../workspace/document-text.ts';
import type { TemplateDefinition } from '../templates/template.ts';
import type { JourneyDefinition } from '../journeys/journey.ts';

export interface FileReport {
  file: string;
  kind: string | null;
  faults: RuleFault[];
  /** What a valid file measures (an SMS template's length and segments). */
  note?: string;
}

type Validator = (doc: unknown, known: JourneyContext) => RuleFault[];

/** What a file may be: a workspace document, a channels file, or a bare condition. */
interface FileKind {
  noun: string;
  schema: string;
  validate: Validator;
}

const FILE_KINDS: readonly FileKind[] = [
  ...DOCUMENT_KINDS,
  { noun: 'channels', schema: 'channels.schema.json', validate: (doc) => validateChannels(doc) },
  { noun: 'condition', schema: 'condition.schema.json', validate: (doc) => validateCondition(doc) },
];

/** A file is known by the schema it names in `$schema`, else by its shape. */
function kindOf(doc: unknown): FileKind | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const d = doc as Record<string, unknown>;
  if (typeof d.$schema === 'string')
    return FILE_KINDS.find((k) => k.schema === basename(d.$schema as string)) ?? null;
  const document = documentKindOf(d);
  if (document) return document;
  if ('all' in d || 'any' in d || 'not' in d) return FILE_KINDS.find((k) => k.noun === 'condition') ?? null;
  return null;
}

async function expand(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) {
      const entries = (await readdir(p, { recursive: true })).filter((f) => f.endsWith('.json')).sort();
      files.push(...entries.map((f) => join(p, f)));
    } else {
      files.push(p);
    }
  }
  return files;
}

/** The ids of the segments and templates a journey may name: those of the files being checked. */
function referencable(docs: readonly unknown[]): JourneyContext {
  const segments = new Set<string>();
  const templates = new Map<string, { channel: string }>();
  for (const doc of docs) {
    const kind = kindOf(doc)?.noun;
    const d = doc as { id?: unknown; channel?: unknown };
    if (typeof d?.id !== 'string') continue;
    if (kind === 'segment') segments.add(d.id);
    if (kind === 'template' && typeof d.channel === 'string') templates.set(d.id, { channel: d.channel });
  }
  return { segments, templates, channels: new Set(SEND_CHANNELS) };
}

/** The workspace folder around a file in one of its folders (`<ws>/journeys/x.json` -> `<ws>`). */
const workspaceOf = (file: string): string => dirname(dirname(file));

async function readJson(file: string): Promise<{ doc?: unknown; text?: string; fault?: RuleFault }> {
  const text = await readFile(file, 'utf8');
  const parsed = parseDocumentText(text);
  return 'fault' in parsed ? { fault: parsed.fault } : { doc: parsed.doc, text };
}

/**
 * Validates workspace files (segments, tag rules, lifecycle config, value model, journeys, templates,
 * conditions); folders are searched for `.json` files. A journey may name the segments and templates
 * among the files checked and those of its own workspace folder (`../segments`, `../templates`).
 */
export async function validateFiles(paths: readonly string[]): Promise<FileReport[]> {
  const files = await expand(paths);
  const read = await Promise.all(files.map(readJson));
  const siblings = new Set<string>();
  read.forEach(({ doc }, i) => {
    if (kindOf(doc)?.noun !== 'journey') return;
    const ws = workspaceOf(files[i]);
    for (const folder of ['segments', 'templates']) siblings.add(join(ws, folder));
  });
  const around: unknown[] = [];
  for (const folder of siblings) {
    const extra = await expand([folder]).catch(() => []);
    for (const file of extra) if (!files.includes(file)) around.push((await readJson(file)).doc);
  }
  const known = referencable([...read.map((r) => r.doc), ...around]);

  return read.map(({ doc, text, fault }, i): FileReport => {
    const file = files[i];
    if (fault) return { file, kind: null, faults: [fault] };
    const fileKind = kindOf(doc);
    if (fileKind) {
      const kind = fileKind.noun;
      const faults = locateFaults(text ?? '', fileKind.validate(doc, known));
      const note =
        faults.length > 0
          ? null
          : kind === 'template'
            ? templateNote(doc as TemplateDefinition)
            : kind === 'journey'
              ? journeyNote(doc as JourneyDefinition)
              : null;
      return { file, kind, faults, ...(note ? { note } : {}) };
    }
    return {
      file,
      kind: null,
      faults: [
        {
          pointer: '',
          message: `unknown kind of file: name its schema in "$schema" (${FILE_KINDS.map((k) => k.schema).join(', ')})`,
        },
      ],
    };
  });
}
