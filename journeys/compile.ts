/**
 * A published journey version prepared for the hot path: conditions compiled into predicates, steps
 * indexed, each step's ways out resolved (an absent `next` is the following step, none after the last).
 */
import { compile, type Predicate } from '../rules/compile.ts';
import { type ConditionDependencies, dependencies } from '../rules/dependencies.ts';
import type { Condition } from '../rules/types.ts';
import { durationMs } from '../rules/durations.ts';
import type { JourneyDefinition, Step } from './journey.ts';
import type { SendChannel } from '../model/channels.ts';

export interface CompiledStep {
  step: Step;
  index: number;
  /** The following step's id, or null when the journey ends after this one. */
  following: string | null;
  /** Compiled conditions by purpose: branch conditions in order, send variants in order, waitFor's where. */
  branches: Predicate[];
  variants: Predicate[];
  where: Predicate | null;
}

export interface CompiledJourney {
  id: string;
  version: number;
  definition: JourneyDefinition;
  first: string;
  steps: Map<string, CompiledStep>;
  triggerWhere: Predicate | null;
  audience: Predicate | null;
  exitEvents: { event: string; where: Predicate | null }[];
  exitSegments: { segment: string; on: 'entered' | 'exited' }[];
  /** Paths of the triggering event that waitFor steps match on (kept on the enrollment). */
  matchPaths: string[];
  /** Minimum time between two entries, ms (0: none). */
  minInterval: number;
  reentry: 'never' | 'afterExit' | 'anytime';
  /** 0-10000: users whose journey hash falls below walk as shadows. */
  holdoutBasisPoints: number;
  /** Channels the journey can send on (for the entry consent check). */
  channels: Set<SendChannel>;
  /** The conversion goal; null when the journey has none. */
  goal: CompiledGoal | null;
  /** What its conditions read: the workspace keeps those aggregates and event times on every profile. */
  reads: ConditionDependencies[];
}

export interface CompiledGoal {
  /** The goal event, or null for a segment goal. */
  event: string | null;
  segment: string | null;
  where: Predicate | null;
  /** The window, ms, from enrollment (and from each send, for the message's own conversion). */
  within: number;
  /** Event property holding the revenue. */
  revenue: string | null;
  /** Dotted paths of the order id in the event, the first present wins. */
  orderId: string[];
}

/** The conversion window when a goal gives none: exactly 7 x 24 h. */
export const DEFAULT_GOAL_WINDOW = 'P7D';

function compileGoal(definition: JourneyDefinition): CompiledGoal | null {
  const goal = definition.goal;
  if (!goal) return null;
  const within = durationMs(goal.within ?? DEFAULT_GOAL_WINDOW);
  if ('segment' in goal) {
    return { event: null, segment: goal.segment, where: null, within, revenue: null, orderId: [] };
  }
  return {
    event: goal.event,
    segment: null,
    where: maybe(goal.where),
    within,
    revenue: goal.revenue ?? null,
    // Segment's e-commerce spec names it `order_id`.
    orderId: goal.orderId ? [goal.orderId] : ['properties.orderId', 'properties.order_id'],
  };
}

/** Every condition of a journey (trigger, audience, exits, goal and steps). */
function conditionsOf(definition: JourneyDefinition): Condition[] {
  const found: (Condition | undefined)[] = [definition.audience?.condition];
  const { trigger, goal } = definition;
  if (trigger.type === 'event' || trigger.type === 'schedule') found.push(trigger.where);
  for (const exit of definition.exit ?? []) if ('event' in exit) found.push(exit.where);
  if (goal && 'event' in goal) found.push(goal.where);
  for (const step of definition.steps) {
    if (step.type === 'branch') found.push(...step.branches.map((b) => b.condition));
    if (step.type === 'send') found.push(...(step.variants ?? []).map((v) => v.condition));
    if (step.type === 'waitFor') found.push(step.where);
  }
  return found.filter((c) => c !== undefined);
}

const maybe = (condition: Condition | undefined): Predicate | null =>
  condition === undefined ? null : compile(condition);

/** Compiles a journey that passed validateJourney. */
export function compileJourney(definition: JourneyDefinition): CompiledJourney {
  const steps = new Map<string, CompiledStep>();
  const matchPaths = new Set<string>();
  const channels = new Set<SendChannel>();
  definition.steps.forEach((step, index) => {
    const compiled: CompiledStep = {
      step,
      index,
      following: definition.steps[index + 1]?.id ?? null,
      branches: [],
      variants: [],
      where: null,
    };
    if (step.type === 'branch') compiled.branches = step.branches.map((b) => compile(b.condition));
    if (step.type === 'send') {
      compiled.variants = (step.variants ?? []).map((v) => compile(v.condition));
      channels.add(step.channel);
      if (step.fallback) channels.add(step.fallback.channel);
    }
    if (step.type === 'waitFor') {
      compiled.where = maybe(step.where);
      if (step.match) matchPaths.add(step.match);
    }
    steps.set(step.id, compiled);
  });
  const trigger = definition.trigger;
  const exits = definition.exit ?? [];
  return {
    id: definition.id,
    version: definition.version,
    definition,
    first: definition.steps[0].id,
    steps,
    triggerWhere: trigger.type === 'event' || trigger.type === 'schedule' ? maybe(trigger.where) : null,
    audience: maybe(definition.audience?.condition),
    exitEvents: exits.flatMap((e) => ('event' in e ? [{ event: e.event, where: maybe(e.where) }] : [])),
    exitSegments: exits.flatMap((e) => ('segment' in e ? [{ segment: e.segment, on: e.on }] : [])),
    matchPaths: [...matchPaths],
    minInterval: definition.entry?.minInterval ? durationMs(definition.entry.minInterval) : 0,
    reentry: definition.entry?.reentry ?? 'never',
    holdoutBasisPoints: Math.round((definition.holdout?.percent ?? 0) * 100),
    channels,
    goal: compileGoal(definition),
    reads: conditionsOf(definition).map(dependencies),
  };
}
