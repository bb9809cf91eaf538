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
import { formatFault, locateFaults, parseDocumentText } from '../workspace/document-text.ts';
import { loadChannels, sandboxAddresses } from '../channels/config.ts';

export interface SimulateOptions {
  journey: string[];
  /** The stream's file; or, with `fromStore`, the calls a running Tideline kept are replayed. */
  events?: string;
  fromStore?: boolean;
  /** With `fromStore`: the period, a date-time or a duration back from now (P30D), and its end. */
  since?: string;
  until?: string;
  /** With `fromStore`: the API and its admin key. */
  url?: string;
  key?: string;
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
  if (options.fromStore) return backtest(options, out, err, started);
  if (options.events === undefined) {
    err.write(
      'tideline simulate: give --events <file>, or --from-store to replay what a running Tideline kept\n',
    );
    return 2;
  }
  const events = options.events;
  try {
    const dir = options.workspace ?? workspaceAround(options.journey[0]);
    const folder = dir ? await readWorkspace(dir) : { docs: new Map(), problems: [] };
    const problems = [...folder.problems];
    const known = contextOf({ segments: folder.docs.get('segment'), templates: folder.docs.get('template') });
    const journeys: JourneyDefinition[] = [];
    for (const file of options.journey) {
      const text = await readFile(file, 'utf8');
      const parsed = parseDocumentText(text);
      if ('fault' in parsed) {
        problems.push(formatFault(file, parsed.fault));
        continue;
      }
      const { journey, faults } = validateJourney(parsed.doc, known);
      for (const f of locateFaults(text, faults)) problems.push(formatFault(file, f));
      if (journey) journeys.push(journey);
    }
    if (problems.length > 0) {
      err.write(`${problems.join('\n')}\n${problems.length} fault(s): nothing was simulated\n`);
      return 1;
    }
    const channels = await loadChannels(dir ? join(dir, 'channels.json') : undefined);
    const messages = await readMessages(events);
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
      const lines = error.faults.map((f) => `${events}: ${where(f.pointer)}${f.message}`);
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

/**
 * `--from-store`: the journey file is backtested by a running Tideline over the calls its store kept
 * for the period (`POST /v1/journeys/backtest`), against its published segments and templates.
 */
async function backtest(
  options: SimulateOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  started: number,
): Promise<number> {
  const fail = (message: string, code = 2) => {
    err.write(`tideline simulate: ${message}\n`);
    return code;
  };
  if (options.journey.length !== 1) return fail('--from-store backtests one --journey at a time');
  if (options.events !== undefined) return fail('give either --events or --from-store, not both');
  if (!options.key) return fail('--from-store needs the admin key: --key or TIDELINE_ADMIN_KEY');
  const file = options.journey[0];
  const text = await readFile(file, 'utf8');
  const parsed = parseDocumentText(text);
  if ('fault' in parsed) return fail(formatFault(file, parsed.fault), 1);
  const base = (options.url ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
  err.write(`backtesting ${file} on ${base} over the calls since ${options.since ?? 'P30D'}\n`);
  let res: Response;
  try {
    res = await fetch(`${base}/v1/journeys/backtest`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${options.key}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        journey: parsed.doc,
        since: options.since ?? 'P30D',
        ...(options.until ? { until: options.until } : {}),
        users: options.json ? 1000 : options.users,
      }),
    });
  } catch (error) {
    return fail(`cannot reach ${base}: ${(error as Error).message} (is Tideline running? --url)`);
  }
  const body = (await res.json().catch(() => ({}))) as SimulationResult & {
    message?: string;
    errors?: { pointer: string; message: string }[];
  };
  if (res.status !== 200) {
    // The journey's faults, placed in the file.
    const faults = (body.errors ?? []).map((f) => ({ ...f, pointer: f.pointer.replace(/^\/journey/, '') }));
    for (const f of locateFaults(text, faults)) err.write(`${formatFault(file, f)}\n`);
    return fail(`${res.status} ${body.message ?? res.statusText}: nothing was backtested`, 1);
  }
  if (options.json) out.write(`${JSON.stringify(body, null, 2)}\n`);
  else out.write(render(body, options.users, Date.now() - started));
  return 0;
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
