/**
 * Template checks at validation (publish, `tideline validate`): Liquid syntax, variables a message
 * could never have (a misspelt root or profile field), and the channel's limits measured on the
 * content rendered with the template's `sample` values.
 */
import type { RuleFault } from '../rules/types.ts';
import { contentTexts, liquid, mapTexts, MEMORY_LIMIT, RENDER_LIMIT_MS, TEMPLATE_ROOTS } from './liquid.ts';
import type { TemplateDefinition } from './template.ts';

/** Syntax and variables of every text in the content. */
export function liquidFaults(template: TemplateDefinition): RuleFault[] {
  const faults: RuleFault[] = [];
  for (const [pointer, text] of contentTexts(template.content)) {
    let segments: (string | number)[][];
    try {
      segments = liquid.globalVariableSegmentsSync(text) as (string | number)[][];
    } catch (error) {
      faults.push({ pointer, message: `Liquid: ${(error as Error).message}` });
      continue;
    }
    for (const path of segments) {
      const [root, field] = path.map(String);
      const allowed = TEMPLATE_ROOTS[root];
      const name = path.join('.');
      if (allowed === undefined) {
        faults.push({
          pointer,
          message: `unknown variable '${name}': a template reads ${Object.keys(TEMPLATE_ROOTS).join(', ')}`,
        });
      } else if (allowed && field !== undefined && !allowed.includes(field)) {
        faults.push({
          pointer,
          message: `unknown variable '${name}': ${root} has ${allowed.map((f) => `${root}.${f}`).join(', ')}`,
        });
      }
    }
  }
  return faults;
}

/**
 * Renders the content with the sample (lenient: what has no sample value renders empty), within the
 * render time and memory limits of a message: a text that exceeds them is a fault in `faults`.
 */
export function previewContent(
  template: TemplateDefinition & { sample?: Record<string, unknown> },
  faults: RuleFault[] = [],
): Record<string, unknown> {
  const scope = { profile: {}, event: {}, journey: {}, message: {}, links: {}, ...(template.sample ?? {}) };
  const deadline = performance.now() + RENDER_LIMIT_MS;
  return mapTexts(template.content, (text, pointer) => {
    try {
      const renderLimit = Math.max(1, deadline - performance.now());
      return liquid.parseAndRenderSync(text, scope, { strictVariables: false, renderLimit });
    } catch (error) {
      const message = (error as Error).message;
      if (/limit exceeded/.test(message)) {
        faults.push({
          pointer,
          message: `Liquid: ${message} (a template renders in at most ${RENDER_LIMIT_MS} ms and ${MEMORY_LIMIT.toLocaleString('en')} allocated items)`,
        });
      }
      return text;
    }
  }) as Record<string, unknown>;
}

/**
 * Profile traits a template outputs with neither `| default:` nor `| required`: they render empty
 * for a user without them (a greeting to nobody), so validation warns about each.
 */
export function traitsWithoutDefault(template: TemplateDefinition): { pointer: string; name: string }[] {
  const found: { pointer: string; name: string }[] = [];
  for (const [pointer, text] of contentTexts(template.content)) {
    for (const [, inside] of text.matchAll(/\{\{-?([\s\S]*?)-?\}\}/g)) {
      const [variable, ...filters] = inside.split('|').map((part) => part.trim());
      const trait = /^profile\.traits(?:\.([\w$]+)|\[["']([^"']+)["']\])$/.exec(variable);
      if (!trait) continue;
      if (filters.some((f) => /^(default|required)\b/.test(f))) continue;
      found.push({ pointer, name: `profile.traits.${trait[1] ?? trait[2]}` });
    }
  }
  return found;
}
