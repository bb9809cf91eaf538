import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { validateLifecycleConfig } from '../engine/lifecycle/config.ts';
import { validateCondition } from '../rules/validate.ts';
import type { RuleFault } from '../rules/types.ts';
import { validateSegment } from '../segments/segment.ts';
import { validateTagRule } from '../segments/tag-rule.ts';
import { validateValueModel } from '../segments/value-model-config.ts';

export interface FileReport {
  file: string;
  kind: string | null;
  faults: RuleFault[];
}

type Validator = (doc: unknown) => RuleFault[];

/** Validators by the schema a file names in `$schema` (its file name). */
const BY_SCHEMA: Record<string, [string, Validator]> = {
  'segment.schema.json': ['segment', (doc) => validateSegment(doc).faults],
  'tag-rule.schema.json': ['tag rule', (doc) => validateTagRule(doc).faults],
  'lifecycle.schema.json': ['lifecycle', (doc) => validateLifecycleConfig(doc).faults],
  'value-model.schema.json': ['value model', validateValueModel],
  'condition.schema.json': ['condition', (doc) => validateCondition(doc)],
};

/** A file without `$schema` is recognised by its shape. */
function kindOf(doc: unknown): string | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const d = doc as Record<string, unknown>;
  if (typeof d.$schema === 'string') return BY_SCHEMA[basename(d.$schema)]?.[0] ?? null;
  if (d.id === 'lifecycle') return 'lifecycle';
  if (d.id === 'value-model') return 'value model';
  if ('condition' in d) return 'segment';
  if ('conditions' in d && 'event' in d) return 'tag rule';
  if ('all' in d || 'any' in d || 'not' in d) return 'condition';
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

/** Validates workspace files (segments, tag rules, lifecycle config, conditions); folders are searched for `.json` files. */
export async function validateFiles(paths: readonly string[]): Promise<FileReport[]> {
  const reports: FileReport[] = [];
  for (const file of await expand(paths)) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      reports.push({
        file,
        kind: null,
        faults: [{ pointer: '', message: `not valid JSON: ${(error as Error).message}` }],
      });
      continue;
    }
    const kind = kindOf(doc);
    const validator = Object.values(BY_SCHEMA).find(([k]) => k === kind)?.[1];
    reports.push(
      validator
        ? { file, kind, faults: validator(doc) }
        : {
            file,
            kind: null,
            faults: [
              {
                pointer: '',
                message: `unknown kind of file: name its schema in "$schema" (${Object.keys(BY_SCHEMA).join(', ')})`,
              },
            ],
          },
    );
  }
  return reports;
}
