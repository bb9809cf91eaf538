/**
 * Validation of journey documents: every fault, each located by a JSON pointer.
 * The schemas check the shape; this module adds what they cannot express: links between steps,
 * reachability, loops that never wait, durations, cron and timezones, conditions, and references to
 * the workspace's segments, templates and channels.
 */
import { Ajv } from 'ajv';
import { cronProblem, MIN_JOURNEY_SCHEDULE_MS } from '../rules/cron.ts';
import { DateTime, IANAZone } from 'luxon';
import conditionSchema from '../schemas/condition.schema.json' with { type: 'json' };
import journeySchema from '../schemas/journey.schema.json' with { type: 'json' };
import { parseDurationMs } from '../rules/durations.ts';
import type { RuleFault } from '../rules/types.ts';
import { validateCondition } from '../rules/validate.ts';
import { schemaFaults, type TagNames } from '../rules/schema-faults.ts';
import { didYouMean } from '../rules/suggest.ts';
import { type JourneyDefinition, STEP_TYPES, TRIGGER_TYPES } from './journey.ts';
import { SEND_CHANNELS } from '../model/channels.ts';

/** What a journey may refer to in its workspace. */
export interface JourneyContext {
  segments: ReadonlySet<string>;
  templates: ReadonlyMap<string, { channel: string }>;
  /** Channels configured in the workspace. */
  channels: ReadonlySet<string>;
}

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, discriminator: true });
ajv.addSchema(conditionSchema, 'condition.schema.json');
const checkJourneyShape = ajv.compile(journeySchema);

const WEBHOOK_TIMEOUT_MAX_MS = 30_000;
/** As in the schema; longer lists get only their schema fault (the graph checks recurse per step). */
const MAX_STEPS = 1000;
const TIME_OF_DAY = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const WAITS: readonly string[] = ['wait', 'waitFor'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const oneOf = (values: readonly string[], v: unknown): v is string => values.includes(v as string);
const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));

const journeyTags: TagNames = (pointer) =>
  pointer === '/trigger' ? { what: 'trigger', values: TRIGGER_TYPES } : { what: 'step', values: STEP_TYPES };

// ---------------------------------------------------------------------------------------------
// Public API

/** Every fault of a journey document, each with its JSON pointer; the journey when there is none. */
export function validateJourney(
  doc: unknown,
  known: JourneyContext,
): { journey?: JourneyDefinition; faults: RuleFault[] } {
  const check = new JourneyCheck(known);
  if (isObj(doc)) check.document(doc);
  const faults = checkJourneyShape(doc)
    ? []
    : schemaFaults(checkJourneyShape.errors, check.owned, journeyTags);
  faults.push(...check.faults);
  if (faults.length === 0) return { journey: doc as JourneyDefinition, faults };
  if (!isObj(doc)) return { faults };
  const steps = list(doc.steps);
  return { faults: faults.map((f) => (check.namingTheirStep.has(f) ? f : namingStep(f, steps))) };
}

/** A fault inside a step says which step, by its id (the pointer only gives its place in the list). */
function namingStep(fault: RuleFault, steps: readonly unknown[]): RuleFault {
  const index = /^\/steps\/(\d+)(\/|$)/.exec(fault.pointer)?.[1];
  const step = index === undefined ? undefined : steps[Number(index)];
  if (!isObj(step) || typeof step.id !== 'string' || step.id === '') return fault;
  return { ...fault, message: `step '${step.id}': ${fault.message}` };
}

/** The entry rule, in the words of the docs and the schema. */
export const ENTRY_RULE =
  'A user enters a journey only when at least one of its send channels has both an address and consent (holdout users by the same rule, so both groups stay comparable)';
export const NO_SEND_ENTRY_RULE = 'A journey without a send step has no reachability condition';

/** What `tideline validate` says of a valid journey: its send channels and who can enter. */
export function journeyNote(journey: JourneyDefinition): string {
  const channels = new Set<string>();
  for (const step of journey.steps) {
    if (step.type !== 'send') continue;
    channels.add(step.channel);
    if (step.fallback) channels.add(step.fallback.channel);
  }
  return channels.size === 0 ? NO_SEND_ENTRY_RULE : `sends on ${[...channels].join(', ')}; ${ENTRY_RULE}`;
}

/** Step ids to their index in `steps`. */
export function stepIndex(journey: JourneyDefinition): Map<string, number> {
  return indexSteps(journey.steps);
}

/** Ids of the steps a user can go to from step `index`, the implicit following step included; none: the journey ends. */
export function successors(journey: JourneyDefinition, index: number): string[] {
  const next = successorIndices(journey.steps, index, stepIndex(journey)).targets;
  return [...new Set(next.map((i) => journey.steps[i].id))];
}

// ---------------------------------------------------------------------------------------------
// The step graph, over documents that may not be valid yet

function indexSteps(steps: readonly unknown[]): Map<string, number> {
  const index = new Map<string, number>();
  steps.forEach((step, i) => {
    if (isObj(step) && typeof step.id === 'string' && !index.has(step.id)) index.set(step.id, i);
  });
  return index;
}

/** A step's ways out: the field naming the target (relative pointer) and its value; absent: the following step. */
function outcomes(step: unknown): { pointer: string; target: unknown }[] {
  // Not a step at all (a schema fault): on to the following step, rather than cutting the rest off.
  if (!isObj(step)) return [{ pointer: '/next', target: undefined }];
  const field = (name: string) => ({ pointer: `/${name}`, target: step[name] });
  switch (step.type) {
    case 'exit':
      return [];
    case 'waitFor':
      return [field('onEvent'), field('onTimeout')];
    case 'branch':
      return [
        ...list(step.branches).map((b, j) => ({
          pointer: `/branches/${j}/next`,
          target: isObj(b) ? b.next : undefined,
        })),
        field('else'),
      ];
    case 'split':
      return list(step.paths).map((p, j) => ({
        pointer: `/paths/${j}/next`,
        target: isObj(p) ? p.next : undefined,
      }));
    default:
      return [field('next')];
  }
}

/** Indices a step leads to; `dangling` when a link names no step. A target that is not a string counts as absent. */
function successorIndices(
  steps: readonly unknown[],
  i: number,
  index: ReadonlyMap<string, number>,
): { targets: number[]; dangling: boolean } {
  const targets: number[] = [];
  let dangling = false;
  for (const { target } of outcomes(steps[i])) {
    const j = typeof target === 'string' ? index.get(target) : i + 1 < steps.length ? i + 1 : undefined;
    if (j !== undefined) targets.push(j);
    else if (typeof target === 'string') dangling = true;
  }
  return { targets, dangling };
}

// ---------------------------------------------------------------------------------------------
// Journey checks beyond the schema

class JourneyCheck {
  readonly faults: RuleFault[] = [];
  /** Pointers whose every fault this check reports itself, so the schema's are left out. */
  readonly owned: string[] = [];
  /** Faults whose message already names the step they lie in. */
  readonly namingTheirStep = new Set<RuleFault>();
  private triggerType: unknown;

  constructor(private readonly known: JourneyContext) {}

  private add(pointer: string, message: string, namesItsStep = false): void {
    const fault = { pointer, message };
    this.faults.push(fault);
    if (namesItsStep) this.namingTheirStep.add(fault);
  }

  document(doc: Obj): void {
    if (isObj(doc.trigger)) {
      this.triggerType = doc.trigger.type;
      this.trigger(doc.trigger, doc.audience);
    }
    if (isObj(doc.audience)) {
      this.segment(doc.audience.segment, '/audience/segment');
      this.condition(doc.audience.condition, '/audience/condition', false);
    }
    if (isObj(doc.entry)) this.entry(doc.entry);
    list(doc.exit).forEach((criterion, i) => {
      if (!isObj(criterion)) return;
      if (criterion.segment !== undefined) this.segment(criterion.segment, `/exit/${i}/segment`);
      else this.condition(criterion.where, `/exit/${i}/where`, true);
    });
    if (isObj(doc.goal)) {
      if (doc.goal.segment !== undefined) this.segment(doc.goal.segment, '/goal/segment');
      else this.condition(doc.goal.where, '/goal/where', true);
      this.duration(doc.goal.within, '/goal/within');
    }
    if (isObj(doc.policy) && isObj(doc.policy.quietHours)) {
      const { start, end } = doc.policy.quietHours;
      if (typeof start === 'string' && TIME_OF_DAY.test(start) && start === end) {
        this.add('/policy/quietHours/end', 'the same as start: the window would be empty');
      }
    }
    if (Array.isArray(doc.steps)) {
      doc.steps.forEach((step, i) => {
        if (isObj(step)) this.step(step, `/steps/${i}`);
      });
      if (doc.steps.length <= MAX_STEPS) this.graph(doc.steps);
    }
  }

  private trigger(trigger: Obj, audience: unknown): void {
    switch (trigger.type) {
      case 'event':
        this.condition(trigger.where, '/trigger/where', true);
        break;
      case 'segment':
        this.segment(trigger.segment, '/trigger/segment');
        break;
      case 'lifecycle':
        if (trigger.from !== undefined && trigger.from === trigger.to) {
          this.add(
            '/trigger/from',
            `the same stage as 'to': a change from ${show(trigger.to)} to itself never happens`,
          );
        }
        break;
      case 'schedule': {
        this.condition(trigger.where, '/trigger/where', false);
        const { cron, tz } = trigger;
        const zoneIsValid = typeof tz === 'string' && IANAZone.isValidZone(tz);
        if (typeof tz === 'string' && !zoneIsValid) {
          this.add('/trigger/tz', `unknown IANA timezone ${show(tz)}, e.g. Asia/Shanghai`);
        }
        if (typeof cron === 'string') this.cron(cron, zoneIsValid ? tz : 'UTC');
        if (audience === undefined) {
          this.add('/audience', 'a schedule trigger needs an audience with a segment: who each run enrolls');
        } else if (isObj(audience) && audience.segment === undefined) {
          this.add('/audience/segment', 'a schedule trigger needs an audience segment: who each run enrolls');
        }
        break;
      }
    }
  }

  private cron(cron: string, tz: string): void {
    const problem = cronProblem(cron, tz, MIN_JOURNEY_SCHEDULE_MS);
    if (problem) this.add('/trigger/cron', problem);
  }

  private entry(entry: Obj): void {
    this.duration(entry.minInterval, '/entry/minInterval');
    if (entry.minInterval !== undefined && (entry.reentry ?? 'never') === 'never') {
      this.add('/entry/minInterval', 'only applies when reentry is afterExit or anytime');
    }
  }

  private step(step: Obj, p: string): void {
    switch (step.type) {
      case 'wait':
        return this.wait(step, p);
      case 'waitFor':
        this.duration(step.timeout, `${p}/timeout`);
        this.condition(step.where, `${p}/where`, true);
        if (
          step.match !== undefined &&
          oneOf(TRIGGER_TYPES, this.triggerType) &&
          this.triggerType !== 'event'
        ) {
          this.add(
            `${p}/match`,
            `match compares with the triggering event: only for event triggers, not ${show(this.triggerType)}`,
          );
        }
        return;
      case 'branch':
        list(step.branches).forEach((branch, j) => {
          if (isObj(branch)) this.condition(branch.condition, `${p}/branches/${j}/condition`, false);
        });
        return;
      case 'send':
        return this.send(step, p);
      case 'tag': {
        const lists = [step.add, step.remove].filter((v) => v !== undefined);
        if (lists.every((v) => Array.isArray(v) && v.length === 0)) {
          this.add(p, 'a tag step needs at least one tag to add or remove');
        }
        return;
      }
      case 'webhook':
        if (typeof step.url === 'string' && /^https?:\/\//.test(step.url) && !URL.canParse(step.url)) {
          this.add(`${p}/url`, `not a valid URL: ${show(step.url)}`);
        }
        this.duration(step.timeout, `${p}/timeout`, WEBHOOK_TIMEOUT_MAX_MS);
        return;
    }
  }

  private wait(step: Obj, p: string): void {
    const { duration, until } = step;
    if (duration === undefined && until === undefined) this.add(p, 'a wait needs a duration or until');
    if (duration !== undefined && until !== undefined) {
      this.add(`${p}/until`, 'a wait has a duration or until, not both');
    }
    this.duration(duration, `${p}/duration`);
    const date = isObj(until) ? until.date : undefined;
    if (typeof date === 'string' && DATE.test(date) && !DateTime.fromISO(date).isValid) {
      this.add(`${p}/until/date`, `no such date: ${show(date)}`);
    }
  }

  private send(step: Obj, p: string): void {
    const channel = this.channel(step.channel, `${p}/channel`);
    this.template(step.template, `${p}/template`, channel);
    if (isObj(step.fallback)) {
      const fallback = this.channel(step.fallback.channel, `${p}/fallback/channel`);
      this.template(step.fallback.template, `${p}/fallback/template`, fallback);
    }
    list(step.variants).forEach((variant, j) => {
      if (!isObj(variant)) return;
      this.condition(variant.condition, `${p}/variants/${j}/condition`, false);
      this.template(variant.template, `${p}/variants/${j}/template`, channel);
    });
  }

  /** The channel, when it is one (the schema reports other values). */
  private channel(channel: unknown, pointer: string): string | undefined {
    if (!oneOf(SEND_CHANNELS, channel)) return undefined;
    if (!this.known.channels.has(channel)) {
      const configured = [...this.known.channels].join(', ') || 'none';
      this.add(
        pointer,
        `channel '${channel}' is not configured in this workspace (configured: ${configured})`,
      );
    }
    return channel;
  }

  private template(id: unknown, pointer: string, channel: string | undefined): void {
    if (typeof id !== 'string') return;
    const template = this.known.templates.get(id);
    if (template === undefined)
      this.add(pointer, `unknown template '${id}'${didYouMean(id, this.known.templates.keys())}`);
    else if (channel !== undefined && template.channel !== channel) {
      this.add(pointer, `template '${id}' is for ${template.channel}, not ${channel}`);
    }
  }

  private segment(id: unknown, pointer: string): void {
    if (typeof id === 'string' && !this.known.segments.has(id))
      this.add(pointer, `unknown segment '${id}'${didYouMean(id, this.known.segments)}`);
  }

  private duration(value: unknown, pointer: string, maxMs?: number): void {
    this.owned.push(pointer);
    if (value === undefined) return;
    const ms = parseDurationMs(value);
    if (ms === null) {
      this.add(pointer, `must be a positive ISO 8601 duration such as PT1H or P7D, not ${show(value)}`);
    } else if (maxMs !== undefined && ms > maxMs) {
      this.add(pointer, `at most PT${maxMs / 1000}S, not ${show(value)}`);
    }
  }

  /** `readsEvent`: whether the condition runs with a current event. */
  private condition(condition: unknown, pointer: string, readsEvent: boolean): void {
    this.owned.push(pointer);
    if (condition === undefined) return;
    this.faults.push(...validateCondition(condition, pointer));
    if (readsEvent) return;
    for (const at of eventReads(condition, pointer)) {
      this.add(
        at,
        "this condition runs without a current event: it cannot read the 'event' fact (use lastEventAt or aggregate)",
      );
    }
  }

  private graph(steps: unknown[]): void {
    const index = indexSteps(steps);
    steps.forEach((step, i) => {
      if (!isObj(step) || typeof step.id !== 'string' || index.get(step.id) === i) return;
      this.add(`/steps/${i}/id`, `duplicate step id '${step.id}' (also /steps/${index.get(step.id)})`, true);
    });
    steps.forEach((step, i) => {
      for (const { pointer, target } of outcomes(step)) {
        if (typeof target === 'string' && !index.has(target)) {
          this.add(`/steps/${i}${pointer}`, `no step '${target}'${didYouMean(target, index.keys())}`);
        }
      }
    });
    const label = (i: number) => {
      const step = steps[i];
      return isObj(step) && typeof step.id === 'string' ? step.id : `#${i}`;
    };
    const next = steps.map((_, i) => successorIndices(steps, i, index));
    for (const i of unreachable(next)) {
      this.add(`/steps/${i}`, `step '${label(i)}' is unreachable from the first step`, true);
    }
    // Steps of an unknown type (a schema fault) are left out: their successors are anyone's guess.
    const loopable = steps.map((s) => isObj(s) && oneOf(STEP_TYPES, s.type) && !WAITS.includes(s.type));
    const edges = next.map((n) => n.targets);
    for (const cycle of cyclesWithin(edges, loopable)) {
      const ids = [...cycle, cycle[0]].map(label).join(' -> ');
      this.add(`/steps/${Math.min(...cycle)}`, `loop without a wait or waitFor: ${ids}`, true);
    }
  }
}

/** Pointers to the `fact` of every leaf (or fact-valued comparison) reading the `event` fact. */
function eventReads(node: unknown, pointer: string): string[] {
  if (!isObj(node)) return [];
  const found: string[] = [];
  if (node.fact === 'event') found.push(`${pointer}/fact`);
  if (isObj(node.value) && node.value.fact === 'event') found.push(`${pointer}/value/fact`);
  for (const key of ['all', 'any'] as const) {
    list(node[key]).forEach((child, i) => found.push(...eventReads(child, `${pointer}/${key}/${i}`)));
  }
  if (node.not !== undefined) found.push(...eventReads(node.not, `${pointer}/not`));
  return found;
}

/**
 * Steps no path from the first one reaches. A reachable link that names no step might have meant any
 * step, so then nothing is reported: the broken link is the fault.
 */
function unreachable(next: readonly { targets: number[]; dangling: boolean }[]): number[] {
  if (next.length === 0) return [];
  const seen = new Set<number>([0]);
  const queue = [0];
  for (let k = 0; k < queue.length; k++) {
    const i = queue[k];
    if (next[i].dangling) return [];
    for (const j of next[i].targets) {
      if (!seen.has(j)) {
        seen.add(j);
        queue.push(j);
      }
    }
  }
  return next.map((_, i) => i).filter((i) => !seen.has(i));
}

/**
 * One cycle (as step indices) per strongly connected component of the graph restricted to `nodes`,
 * found with Tarjan's algorithm; ordered by their lowest step.
 */
function cyclesWithin(edges: readonly number[][], nodes: readonly boolean[]): number[][] {
  const order: number[] = edges.map(() => -1);
  const low: number[] = edges.map(() => -1);
  const onStack: boolean[] = edges.map(() => false);
  const stack: number[] = [];
  const cycles: number[][] = [];
  const within = (i: number) => edges[i].filter((j) => nodes[j]);
  let visited = 0;

  const visit = (v: number): void => {
    order[v] = low[v] = visited++;
    stack.push(v);
    onStack[v] = true;
    for (const w of within(v)) {
      if (order[w] === -1) {
        visit(w);
        low[v] = Math.min(low[v], low[w]);
      } else if (onStack[w]) {
        low[v] = Math.min(low[v], order[w]);
      }
    }
    if (low[v] !== order[v]) return;
    const component = new Set<number>();
    let w: number;
    do {
      w = stack.pop() as number;
      onStack[w] = false;
      component.add(w);
    } while (w !== v);
    const start = Math.min(...component);
    if (component.size > 1 || within(start).includes(start)) cycles.push(cycleFrom(start, component, within));
  };

  nodes.forEach((isNode, i) => {
    if (isNode && order[i] === -1) visit(i);
  });
  return cycles.sort((a, b) => a[0] - b[0]);
}

/** The shortest path from `start` back to it inside its component (breadth first), without the repeat. */
function cycleFrom(start: number, component: ReadonlySet<number>, within: (i: number) => number[]): number[] {
  const parent = new Map<number, number>();
  const queue = [start];
  for (let k = 0; k < queue.length; k++) {
    const v = queue[k];
    for (const w of within(v)) {
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(parent.get(path[0]) as number);
        return path;
      }
      if (component.has(w) && !parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}
