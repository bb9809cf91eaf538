import type { JsonObject } from '../model/json.ts';
import type { Profile } from '../model/profile.ts';
import { profileFact } from '../segments/context.ts';
import type { Template } from 'liquidjs';
import { contentTexts, liquid, mapTexts, RENDER_LIMIT_MS, type TrackLink } from './liquid.ts';
import type { TemplateDefinition } from './template.ts';

/** What a message is rendered with (the template's `sample` has the same shape). */
export interface RenderScope {
  profile: JsonObject;
  event: JsonObject;
  journey: JsonObject;
  message: JsonObject;
  links: JsonObject;
}

/** The profile as templates see it: what conditions see (`profile` in rules). */
export const profileScope = (profile: Readonly<Profile>): JsonObject =>
  profileFact(profile as Profile) as unknown as JsonObject;

const parsedTexts = new Map<string, Template[]>();

/** Parses a text once: templates are few, messages many. */
function parsed(text: string): Template[] {
  let found = parsedTexts.get(text);
  if (!found) {
    found = liquid.parse(text);
    if (parsedTexts.size >= 10_000) parsedTexts.clear();
    parsedTexts.set(text, found);
  }
  return found;
}

/** Whether any text of the template reads `event` (the trigger is looked up only then). */
export function readsEvent(template: TemplateDefinition): boolean {
  let known = eventReaders.get(template);
  if (known === undefined) eventReaders.set(template, (known = findsEvent(template)));
  return known;
}

const eventReaders = new WeakMap<TemplateDefinition, boolean>();

function findsEvent(template: TemplateDefinition): boolean {
  return contentTexts(template.content).some(
    ([, t]) => t.includes('event') && liquid.globalVariablesSync(parsed(t)).includes('event'),
  );
}

export class RenderError extends Error {
  constructor(
    message: string,
    /** Where in the template's content (a JSON pointer). */
    readonly pointer: string,
  ) {
    super(message);
  }
}

/**
 * Renders every text of a template's content (nested objects too), keeping its shape. A missing
 * variable or a Liquid error throws a RenderError naming the field.
 */
export function renderContent<T extends TemplateDefinition>(
  template: T,
  scope: RenderScope,
  track?: TrackLink,
): T['content'] {
  const context = { ...scope, _track: track ? { link: track } : undefined };
  // One time budget for all the texts of the template (the memory limit is per text).
  const deadline = performance.now() + RENDER_LIMIT_MS;
  return mapTexts(template.content, (text, pointer) => {
    if (!text.includes('{')) return text;
    try {
      const renderLimit = Math.max(1, deadline - performance.now());
      return liquid.renderSync(parsed(text), context, { renderLimit });
    } catch (error) {
      throw new RenderError(`${pointer}: ${(error as Error).message}`, pointer);
    }
  }) as T['content'];
}
