import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { InputError } from '../model/input-error.ts';
import type { LifecycleConfig } from '../lifecycle/config.ts';
import { simulate, SimulationError, type SimulationResult } from '../engine/simulation/simulate.ts';
import type { JourneyDefinition } from '../journeys/journey.ts';
import { validateJourney } from '../journeys/validate.ts';
import type { SegmentDefinition } from '../segments/segment.ts';
import type { TagRuleDefinition } from '../segments/tag-rule.ts';
import type { TemplateDefinition } from '../templates/template.ts';
import { contextOf } from '../journeys/context.ts';
import { readWorkspace } from './workspace.ts';
import { loadChannels, sandboxAddresses } from '../channels/config.ts';

export interface SimulateOptions {
  journey: string[];
  events: string;
  /** The workspace folder whose segments, tag rules, templates and lifecycle apply. */
  workspace?: string;
  from?: string;
  to?: string;
  /** Timelines printed (the totals always cover everyone). */
  users: number;
  /** Threads to replay on (default: the simulator's choice). */
  workers?: number;
  json: boolean;
}

/** `<ws>/journeys/x.json` belongs to the workspace `<ws>` when that folder has segments or templates. */
function workspaceAround(file: string): string | undefined {
  const ws = dirname(dirname(file));
  return ['segments', 'templates'].some((f) => existsSync(join(ws, f))) ? ws : undefined;
}

async function readMessages(path: string): Promise<unknown[]> {
  const messages: unknown[] = [];
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path) })) {
    n++;
    if (!line.trim()) continue;
    try {
      messages.push(JSON.parse(line));
    } catch (error) {
      throw new SimulationError(`${path}:${n}: not valid JSON: ${(error as Error).message}`);
    }
  }
  return messages;
}

function parseTime(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SimulationError(`${flag}: not an ISO 8601 date or date-time: ${value}`);
  return ms;
}

/** Replays `--events` through `--journey` files on a virtual clock and prints what happened. Exit code. */
export async function runSimulate(
  options: SimulateOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const started = Date.now();
  try {
    const dir = options.workspace ?? workspaceAround(options.journey[0]);
    const folder = dir ? await readWorkspace(dir) : { docs: new Map(), problems: [] };
    const problems = [...folder.problems];
    const known = contextOf({ segments: folder.docs.get('segment'), templates: folder.docs.get('template') });
    const journeys: JourneyDefinition[] = [];
    for (const file of options.journey) {
      const { journey, faults } = validateJourney(JSON.parse(await readFile(file, 'utf8')), known);
      for (const f of faults) problems.push(`${file}:${f.pointer || '/'}: ${f.message}`);
      if (journey) journeys.push(journey);
    }
    if (problems.length > 0) {
      err.write(`${problems.join('\n')}\n${problems.length} fault(s): nothing was simulated\n`);
      return 1;
    }
    const channels = await loadChannels(dir ? join(dir, 'channels.json') : undefined);
    const messages = await readMessages(options.events);
    err.write(
      `replaying ${messages.length.toLocaleString('en')} messages through ${journeys.map((j) => j.id).join(', ')}\n`,
    );
    const result = await simulate({
      journeys,
      segments: (folder.docs.get('segment') ?? []) as unknown as SegmentDefinition[],
      tagRules: (folder.docs.get('tagRule') ?? []) as unknown as TagRuleDefinition[],
      templates: (folder.docs.get('template') ?? []) as unknown as TemplateDefinition[],
      ...(folder.docs.get('lifecycle')
        ? { lifecycle: folder.docs.get('lifecycle')![0] as unknown as LifecycleConfig }
        : {}),
      messages,
      channels: { policy: channels.policy, sandboxAddresses: sandboxAddresses(channels) },
      from: parseTime(options.from, '--from'),
      to: parseTime(options.to, '--to'),
      ...(options.workers ? { workers: options.workers } : {}),
      onProgress: (done, total) =>
        err.write(`\r${done.toLocaleString('en')} / ${total.toLocaleString('en')} messages`),
    });
    err.write(`\r`);
    if (options.json) out.write(`${JSON.stringify(result, null, 2)}\n`);
    else out.write(render(result, options.users, Date.now() - started));
    return 0;
  } catch (error) {
    if (error instanceof InputError) {
      // `/batch/<i>/...`: the i-th message of the file (blank lines not counted).
      const where = (pointer: string) =>
        pointer.replace(
          /^\/batch\/(\d+)(.*)$/,
          (_, i: string, rest: string) => `message ${Number(i) + 1}: ${rest || '/'} `,
        );
      const lines = error.faults.map((f) => `${options.events}: ${where(f.pointer)}${f.message}`);
      err.write(`${lines.join('\n')}\n${error.faults.length} fault(s): nothing was simulated\n`);
      return 1;
    }
    if (error instanceof SimulationError || error instanceof SyntaxError) {
      err.write(`tideline simulate: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

const list = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

export function render(result: SimulationResult, users: number, elapsedMs: number): string {
  const lines = [
    `Replayed ${result.messages.toLocaleString('en')} messages of ${result.users.toLocaleString('en')} users, ${result.from} to ${result.to} (virtual time), in ${(elapsedMs / 1000).toFixed(1)} s`,
    '',
  ];
  for (const [id, t] of Object.entries(result.journeys)) {
    lines.push(
      id,
      `  entered  ${t.entered} (holdout ${t.holdout})`,
      `  goal     ${t.goalReached} reached${t.holdout > 0 ? `; holdout ${t.holdoutGoalReached}` : ''}`,
      `  sent     ${list(t.sends)}`,
      `  skipped  ${list(t.skipped)}`,
      ...(Object.keys(t.failed).length > 0 ? [`  failed   ${list(t.failed)}`] : []),
      `  exits    ${list(t.exits)}`,
      '',
    );
  }
  const ids = Object.keys(result.timelines).sort();
  lines.push(
    `Timelines (${Math.min(users, ids.length)} of ${ids.length} users; --users N for more, --json for all):`,
  );
  for (const id of ids.slice(0, users)) lines.push(id, ...result.timelines[id].map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}
