import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SegmentDefinition, validateSegment } from '../segments/segment.ts';
import { Workspace } from '../segments/workspace.ts';
import { ConfigError } from './config.ts';

/**
 * Reads a workspace folder ("journeys as code"): `segments/*.json` are the published segments.
 * Any fault in any file stops the start, listing every fault with its file and JSON pointer.
 */
export async function loadWorkspace(dir: string, timezone: string): Promise<Workspace> {
  const segmentsDir = join(dir, 'segments');
  let files: string[] = [];
  try {
    files = (await readdir(segmentsDir)).filter((f) => f.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const segments: SegmentDefinition[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const path = join(segmentsDir, file);
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(path, 'utf8'));
    } catch (error) {
      problems.push(`${path}:/: not valid JSON: ${(error as Error).message}`);
      continue;
    }
    const { segment, faults } = validateSegment(doc);
    for (const f of faults) problems.push(`${path}:${f.pointer || '/'}: ${f.message}`);
    if (segment) segments.push(segment);
  }
  const ids = new Set<string>();
  for (const s of segments) {
    if (ids.has(s.id)) problems.push(`${segmentsDir}: two segments have the id '${s.id}'`);
    ids.add(s.id);
  }
  if (problems.length > 0)
    throw new ConfigError(`the workspace in ${dir} has faults:\n${problems.join('\n')}`);
  return new Workspace({ segments, timezone });
}
