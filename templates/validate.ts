import { Ajv } from 'ajv';
import templateSchema from '../schemas/template.schema.json' with { type: 'json' };
import { schemaFaults } from '../rules/schema-faults.ts';
import type { RuleFault } from '../rules/types.ts';
import { templateFaults } from './limits.ts';
import type { TemplateDefinition } from './template.ts';

const checkTemplateShape = new Ajv({
  allErrors: true,
  verbose: true,
  strict: false,
  discriminator: true,
}).compile(templateSchema);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every fault of a message template document, each with its JSON pointer; the template when there is none. */
export function validateTemplate(doc: unknown): { template?: TemplateDefinition; faults: RuleFault[] } {
  const faults = checkTemplateShape(doc) ? [] : schemaFaults(checkTemplateShape.errors, []);
  if (isObj(doc) && doc.channel === 'email' && isObj(doc.content)) {
    if (doc.content.html === undefined && doc.content.text === undefined) {
      faults.push({ pointer: '/content', message: 'an email needs html or text (or both)' });
    }
  }
  if (faults.length === 0) faults.push(...templateFaults(doc as TemplateDefinition));
  return faults.length > 0 ? { faults } : { template: doc as TemplateDefinition, faults };
}
