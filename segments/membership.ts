import { type ConditionDependencies, compile, dependencies, type Predicate } from '../rules/index.ts';
import { type TimeTriggers, timeTriggers } from '../rules/time-triggers.ts';
import type { FactContext } from '../rules/types.ts';
import type { SegmentDefinition } from './segment.ts';

/** A published segment ready to evaluate: its predicate and what it reads. */
export interface CompiledSegment {
  id: string;
  version: number;
  tag?: string;
  predicate: Predicate;
  reads: ConditionDependencies;
  /** For segments that can change with time alone: when. */
  triggers: TimeTriggers | null;
}

export function compileSegment(def: SegmentDefinition): CompiledSegment {
  const reads = dependencies(def.condition);
  return {
    id: def.id,
    version: def.version,
    ...(def.tag ? { tag: def.tag } : {}),
    predicate: compile(def.condition),
    reads,
    triggers: reads.timeRelative ? timeTriggers(def.condition) : null,
  };
}

/**
 * Whether the user is a member now. A condition that cannot be evaluated on this user's data (as
 * json-rules-engine would throw, e.g. `in` against a missing list) means "not a member".
 */
export function isMember(segment: CompiledSegment, ctx: FactContext): boolean {
  return holds(segment.predicate, ctx);
}

/** A predicate's answer, with "cannot be evaluated on this data" (json-rules-engine would throw) as false. */
export function holds(predicate: Predicate, ctx: FactContext): boolean {
  try {
    return predicate(ctx);
  } catch {
    return false;
  }
}

export interface MembershipChange {
  /** The user's segment ids after the change, sorted. */
  segments: string[];
  entered: string[];
  exited: string[];
}

/** Re-evaluates `candidates` for one user; segments not among them keep their current membership. */
export function evaluateMembership(
  current: readonly string[],
  candidates: readonly CompiledSegment[],
  ctx: FactContext,
): MembershipChange {
  const members = new Set(current);
  const entered: string[] = [];
  const exited: string[] = [];
  for (const segment of candidates) {
    const was = members.has(segment.id);
    const is = isMember(segment, ctx);
    if (is && !was) {
      members.add(segment.id);
      entered.push(segment.id);
    } else if (!is && was) {
      members.delete(segment.id);
      exited.push(segment.id);
    }
  }
  return { segments: [...members].sort(), entered, exited };
}
