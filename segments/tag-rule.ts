import { Ajv } from 'ajv';
import conditionSchema from '../schemas/condition.schema.json' with { type: 'json' };
import tagRuleSchema from '../schemas/tag-rule.schema.json' with { type: 'json' };
import { validateCondition } from '../rules/validate.ts';
import type { Condition, RuleFault } from '../rules/types.ts';
import { structuralFaults } from './segment.ts';

/**
 * A tag rule file (schemas/tag-rule.schema.json): a json-rules-engine rule object whose event adds
 * or removes sticky tags, e.g. `price_sensitive` once a user has used 3 coupons.
 */
export interface TagRuleDefinition {
  $schema?: string;
  id: string;
  version: number;
  name: string;
  description?: string;
  priority?: number;
  conditions: Condition;
  event: { type: 'add_tags' | 'remove_tags'; params: { tags: string[] } };
}

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
ajv.addSchema(conditionSchema, 'condition.schema.json');
const validateStructure = ajv.compile(tagRuleSchema);

/** Every fault of a tag rule document, each with its JSON pointer; the rule when there is none. */
export function validateTagRule(doc: unknown): { rule?: TagRuleDefinition; faults: RuleFault[] } {
  const faults: RuleFault[] = [];
  if (!validateStructure(doc)) faults.push(...structuralFaults(validateStructure.errors, '/conditions'));
  const conditions = (doc as { conditions?: unknown } | null)?.conditions;
  if (conditions !== undefined) faults.push(...validateCondition(conditions, '/conditions'));
  return faults.length > 0 ? { faults } : { rule: doc as TagRuleDefinition, faults };
}
