import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuleFault } from '../rules/types.ts';
import { type SegmentDefinition, validateSegment } from '../segments/segment.ts';
import { type TagRuleDefinition, validateTagRule } from '../segments/tag-rule.ts';
import { Workspace } from '../segments/workspace.ts';
import { ConfigError } from './config.ts';

/** Reads and validates `<dir>/<folder>/*.json`; faults go to `problems` as `file:/pointer: message`. */
async function readDefinitions<T extends { id: string }>(
  dir: string,
  folder: string,
  validate: (doc: unknown) => { faults: RuleFault[] },
  problems: string[],
): Promise<T[]> {
  const path = join(dir, folder);
  let files: string[] = [];
  try {
    files = (await readdir(path)).filter((f) => f.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const found: T[] = [];
  const ids = new Set<string>();
  for (const file of files) {
    const filePath = join(path, file);
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(filePath, 'utf8'));
    } catch (error) {
      problems.push(`${filePath}:/: not valid JSON: ${(error as Error).message}`);
      continue;
    }
    const { faults } = validate(doc);
    for (const f of faults) problems.push(`${filePath}:${f.pointer || '/'}: ${f.message}`);
    if (faults.length > 0) continue;
    const definition = doc as T;
    if (ids.has(definition.id))
      problems.push(`${filePath}:/id: another file in ${folder}/ has the id '${definition.id}'`);
    ids.add(definition.id);
    found.push(definition);
  }
  return found;
}

/**
 * Reads a workspace folder ("journeys as code"): `segments/*.json` and `tag-rules/*.json` are
 * published at start. Any fault in any file stops the start, listing every fault with its pointer.
 */
export async function loadWorkspace(dir: string, timezone: string): Promise<Workspace> {
  const problems: string[] = [];
  const segments = await readDefinitions<SegmentDefinition>(dir, 'segments', validateSegment, problems);
  const tagRules = await readDefinitions<TagRuleDefinition>(dir, 'tag-rules', validateTagRule, problems);
  if (problems.length > 0)
    throw new ConfigError(`the workspace in ${dir} has faults:\n${problems.join('\n')}`);
  return new Workspace({ segments, tagRules, timezone });
}
