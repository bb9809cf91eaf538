import { Ajv } from 'ajv';
import { cronProblem, MIN_VALUE_MODEL_SCHEDULE_MS } from '../rules/cron.ts';
import { IANAZone } from 'luxon';
import schema from '../schemas/value-model.schema.json' with { type: 'json' };
import { parseDurationMs } from '../rules/durations.ts';
import type { RuleFault } from '../rules/types.ts';
import { structuralFaults } from './segment.ts';

/** The workspace's value model file (schemas/value-model.schema.json). */
export interface ValueModelConfig {
  $schema?: string;
  id: 'value-model';
  version: number;
  schedule: { cron: string; tz: string };
  orderEvent: string;
  amountProperty: string;
  window: string;
}

const validateStructure = new Ajv({ allErrors: true, verbose: true, strict: false }).compile(schema);

/** Every fault of a value model document, with its JSON pointer. */
export function validateValueModel(doc: unknown): RuleFault[] {
  const faults: RuleFault[] = [];
  if (!validateStructure(doc)) faults.push(...structuralFaults(validateStructure.errors, '/none'));
  const d = doc as Partial<ValueModelConfig> | null;
  if (typeof d?.window === 'string' && parseDurationMs(d.window) === null) {
    faults.push({ pointer: '/window', message: 'must be an ISO 8601 duration, e.g. P365D' });
  }
  const tz = d?.schedule?.tz;
  if (typeof tz === 'string' && !IANAZone.isValidZone(tz)) {
    faults.push({ pointer: '/schedule/tz', message: 'must be an IANA timezone, e.g. Asia/Shanghai' });
  }
  const cron = d?.schedule?.cron;
  if (typeof cron === 'string') {
    const zone = typeof tz === 'string' && IANAZone.isValidZone(tz) ? tz : 'UTC';
    const problem = cronProblem(cron, zone, MIN_VALUE_MODEL_SCHEDULE_MS);
    if (problem) faults.push({ pointer: '/schedule/cron', message: problem });
  }
  return faults;
}
