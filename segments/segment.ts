import { Ajv, type ErrorObject } from 'ajv';
import conditionSchema from '../schemas/condition.schema.json' with { type: 'json' };
import segmentSchema from '../schemas/segment.schema.json' with { type: 'json' };
import { validateCondition } from '../rules/validate.ts';
import { schemaFaults } from '../rules/schema-faults.ts';
import type { Condition, RuleFault } from '../rules/types.ts';

/** A segment file (schemas/segment.schema.json). */
export interface SegmentDefinition {
  $schema?: string;
  id: string;
  version: number;
  name: string;
  description?: string;
  condition: Condition;
  /** Carried by the user exactly while a member. */
  tag?: string;
}

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
ajv.addSchema(conditionSchema, 'condition.schema.json');
const validateStructure = ajv.compile(segmentSchema);

/** ajv's errors as faults, leaving out those under `conditionPointer` (validateCondition reports them better). */
export function structuralFaults(
  errors: ErrorObject[] | null | undefined,
  conditionPointer: string,
): RuleFault[] {
  return schemaFaults(errors, [conditionPointer]);
}

/** Leaves reading the `event` fact: a segment is a state of the user, not a reaction to one event. */
function eventLeaves(node: unknown, pointer: string): RuleFault[] {
  if (typeof node !== 'object' || node === null) return [];
  const n = node as Record<string, unknown>;
  if (n.fact === 'event') {
    return [
      {
        pointer: `${pointer}/fact`,
        message: "segments cannot read the 'event' fact (use aggregate or lastEventAt for behaviour)",
      },
    ];
  }
  const faults: RuleFault[] = [];
  for (const key of ['all', 'any'] as const) {
    if (Array.isArray(n[key])) {
      (n[key] as unknown[]).forEach((child, i) =>
        faults.push(...eventLeaves(child, `${pointer}/${key}/${i}`)),
      );
    }
  }
  if (n.not !== undefined) faults.push(...eventLeaves(n.not, `${pointer}/not`));
  return faults;
}

/** Every fault of a segment document, each with its JSON pointer; the segment when there is none. */
export function validateSegment(doc: unknown): { segment?: SegmentDefinition; faults: RuleFault[] } {
  const faults: RuleFault[] = [];
  if (!validateStructure(doc)) faults.push(...structuralFaults(validateStructure.errors, '/condition'));
  const condition = (doc as { condition?: unknown } | null)?.condition;
  if (condition !== undefined) {
    faults.push(...validateCondition(condition, '/condition'));
    faults.push(...eventLeaves(condition, '/condition'));
  }
  return faults.length > 0 ? { faults } : { segment: doc as SegmentDefinition, faults };
}
