import type { JsonObject } from '../engine/json.ts';
import type { DefinitionStore } from '../engine/ports/definitions.ts';
import { CHANNELS } from './journey.ts';
import type { JourneyContext } from './validate.ts';

/** What journeys may name: the given documents' segments and templates, and those in the store. */
export async function journeyContext(
  definitions: DefinitionStore,
  extra: { segments?: readonly JsonObject[]; templates?: readonly JsonObject[] } = {},
): Promise<JourneyContext> {
  const [segments, templates] = await Promise.all([
    definitions.list('segment'),
    definitions.list('template'),
  ]);
  return {
    segments: new Set([...segments.map((s) => s.id), ...(extra.segments ?? []).map((d) => String(d.id))]),
    templates: new Map([
      ...templates.map((t): [string, { channel: string }] => [
        t.id,
        { channel: String(t.newest.document.channel) },
      ]),
      ...(extra.templates ?? []).map((d): [string, { channel: string }] => [
        String(d.id),
        { channel: String(d.channel) },
      ]),
    ]),
    channels: new Set(CHANNELS),
  };
}
