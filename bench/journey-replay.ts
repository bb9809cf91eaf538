/**
 * One simulator replay, timed, for bench/journeys.ts (run in a child process so every run starts on a
 * fresh heap): the demo workspace (fixtures/workspace: its journeys validated with journeys/validate.ts
 * against its segments and templates, its segments, tag rules and lifecycle) over the generated stream of
 * `users` users and `days` days, held in memory. Prints progress on stderr and, as its last stdout line,
 * {"messages", "users", "seconds", "cpuSeconds", "generateSeconds", "entered"}.
 *
 *   node --import tsx bench/journey-replay.ts [users=10000] [days=30] [activity=1]
 * (activity 3.75: about a million events of 10,000 users over 30 days)
 * Profile it with: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/journey-replay.ts 2000 30
 */
import { fileURLToPath } from 'node:url';
import { readWorkspace } from '../cli/workspace.ts';
import { contextOf } from '../journeys/context.ts';
import type { LifecycleConfig } from '../lifecycle/config.ts';
import { simulate } from '../engine/simulation/simulate.ts';
import { generateStream } from '../fixtures/generate.ts';
import type { JourneyDefinition } from '../journeys/journey.ts';
import { validateJourney } from '../journeys/validate.ts';
import type { SegmentDefinition } from '../segments/segment.ts';
import type { TagRuleDefinition } from '../segments/tag-rule.ts';
import { fmt, log } from './stats.ts';

const DEMO = fileURLToPath(new URL('../fixtures/workspace', import.meta.url));
const users = Number(process.argv[2] ?? 10_000);
const days = Number(process.argv[3] ?? 30);
/** Sessions per user relative to the generator's personas (fixtures/generate.ts `activity`). */
const activity = Number(process.argv[4] ?? 1);

const folder = await readWorkspace(DEMO);
if (folder.problems.length > 0)
  throw new Error(`the demo workspace has faults:\n${folder.problems.join('\n')}`);
const known = contextOf({ segments: folder.docs.get('segment'), templates: folder.docs.get('template') });
const journeys: JourneyDefinition[] = [];
for (const doc of folder.docs.get('journey') ?? []) {
  const { journey, faults } = validateJourney(doc, known);
  if (!journey) throw new Error(`journey ${String(doc.id)}: ${faults.map((f) => f.message).join('; ')}`);
  journeys.push(journey);
}
const lifecycle = folder.docs.get('lifecycle')?.[0] as unknown as LifecycleConfig | undefined;

let t = performance.now();
const messages = [...generateStream({ users, days, seed: 'bench-journeys', start: '2026-10-01', activity })];
const generateSeconds = (performance.now() - t) / 1000;
log(`simulator: ${fmt(messages.length)} messages of ${fmt(users)} users over ${days} days generated`);

t = performance.now();
const cpu = process.cpuUsage();
const result = await simulate({
  ...(process.env.WORKERS ? { workers: Number(process.env.WORKERS) } : {}),
  journeys,
  segments: (folder.docs.get('segment') ?? []) as unknown as SegmentDefinition[],
  tagRules: (folder.docs.get('tagRule') ?? []) as unknown as TagRuleDefinition[],
  ...(lifecycle ? { lifecycle } : {}),
  messages,
  onProgress: (done, total) => {
    if (done % 50_000 < 500)
      log(`simulator: ${fmt(done)} / ${fmt(total)} messages, ${fmt((performance.now() - t) / 1000, 1)} s`);
  },
});
const seconds = (performance.now() - t) / 1000;
const used = process.cpuUsage(cpu);
const entered = Object.fromEntries(
  Object.entries(result.journeys).map(([id, totals]) => [id, totals.entered]),
);
process.stdout.write(
  `${JSON.stringify({
    messages: result.messages,
    users: result.users,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    generateSeconds,
    entered,
  })}\n`,
);
