import type { JsonObject } from '../model/json.ts';
import type { Profile } from '../model/profile.ts';
import { profileFact } from '../segments/context.ts';
import type { Template } from 'liquidjs';
import {
  contentTexts,
  liquid,
  mapTexts,
  RENDER_LIMIT_MS,
  RequiredValueMissing,
  type TrackLink,
} from './liquid.ts';
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
export const readsEvent = (template: TemplateDefinition): boolean => reads(template, 'event');

/** Whether any text of the template reads `links` (an SMS's unsubscribe link is sealed only then). */
export const readsLinks = (template: TemplateDefinition): boolean => reads(template, 'links');

const readers = {
  event: new WeakMap<TemplateDefinition, boolean>(),
  links: new WeakMap<TemplateDefinition, boolean>(),
};

function reads(template: TemplateDefinition, name: keyof typeof readers): boolean {
  let known = readers[name].get(template);
  if (known === undefined) {
    known = contentTexts(template.content).some(
      ([, t]) => t.includes(name) && liquid.globalVariablesSync(parsed(t)).includes(name),
    );
    readers[name].set(template, known);
  }
  return known;
}

export class RenderError extends Error {
  constructor(
    message: string,
    /** Where in the template's content (a JSON pointer). */
    readonly pointer: string,
    /** The render ran out of its time budget (rather than a fault of the template's values). */
    readonly outOfTime = false,
  ) {
    super(message);
  }
}

/** The profile traits a text reads (`profile.traits.<name>`), found once per text. */
function traitsRead(text: string): string[] {
  let found = readTraits.get(text);
  if (!found) {
    const names = new Set<string>();
    for (const path of liquid.globalVariableSegmentsSync(parsed(text)) as unknown[][]) {
      if (path[0] === 'profile' && path[1] === 'traits' && path.length > 2) names.add(String(path[2]));
    }
    found = [...names];
    if (readTraits.size >= 10_000) readTraits.clear();
    readTraits.set(text, found);
  }
  return found;
}

const readTraits = new Map<string, string[]>();

/** The variables a text marks `| required`, as written (`profile.traits.name`). */
const requiredNames = (text: string): string[] =>
  [...text.matchAll(/\{\{-?\s*([A-Za-z_][\w.]*)[^}]*?\|\s*required\b/g)].map((m) => m[1]);

/** The value at a dotted path of the scope (undefined when any step is missing). */
function valueAt(scope: object, path: string): unknown {
  let value: unknown = scope;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Renders every text of a template's content (nested objects too), keeping its shape. A profile
 * trait the user does not have renders empty (`| default:` gives it a value); one marked
 * `| required`, any other missing variable and a Liquid error throw a RenderError naming the field.
 */
export function renderContent<T extends TemplateDefinition>(
  template: T,
  scope: RenderScope,
  track?: TrackLink,
): T['content'] {
  const traits = (scope.profile.traits ?? {}) as JsonObject;
  const missing = contentTexts(template.content)
    .flatMap(([, text]) => (text.includes('traits') ? traitsRead(text) : []))
    .filter((name) => !Object.hasOwn(traits, name));
  // Missing traits are there as null: strict variables would refuse them, and null renders empty.
  const profile =
    missing.length > 0
      ? { ...scope.profile, traits: { ...Object.fromEntries(missing.map((n) => [n, null])), ...traits } }
      : scope.profile;
  const context = { ...scope, profile, _track: track ? { link: track } : undefined };
  try {
    return renderTexts(template.content, context);
  } catch (error) {
    // The time budget is wall-clock: a pause of the process (GC, a busy machine) can use it up. Another
    // try tells such a pause from a template that runs too long, so the decision stays the same.
    if (!(error instanceof RenderError) || !error.outOfTime) throw error;
    return renderTexts(template.content, context);
  }
}

/** Renders the texts within one time budget for all of them (the memory limit is per text). */
function renderTexts<C>(content: C, context: object): C {
  const deadline = performance.now() + RENDER_LIMIT_MS;
  return mapTexts(content, (text, pointer) => {
    if (!text.includes('{')) return text;
    try {
      const renderLimit = Math.max(1, deadline - performance.now());
      return liquid.renderSync(parsed(text), context, { renderLimit });
    } catch (error) {
      const cause = (error as { originalError?: unknown }).originalError ?? error;
      if (cause instanceof RequiredValueMissing) {
        const name = requiredNames(text).find((n) =>
          [undefined, null, ''].includes(valueAt(context, n) as never),
        );
        throw new RenderError(`${pointer}: ${name ?? 'a value'} is required and missing`, pointer);
      }
      const message = (error as Error).message;
      throw new RenderError(
        `${pointer}: ${message}`,
        pointer,
        message.includes('template render limit exceeded'),
      );
    }
  }) as C;
}
