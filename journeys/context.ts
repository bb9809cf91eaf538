import type { JsonObject } from '../model/json.ts';
import type { DefinitionStore } from '../ports/definitions.ts';
import type { JourneyContext } from './validate.ts';
import { SEND_CHANNELS } from '../model/channels.ts';

type Documents = { segments?: readonly JsonObject[]; templates?: readonly JsonObject[] };

/** What journeys may name: the segments and templates among these documents. */
export function contextOf(docs: Documents): JourneyContext {
  return {
    segments: new Set((docs.segments ?? []).map((d) => String(d.id))),
    templates: new Map((docs.templates ?? []).map((d) => [String(d.id), { channel: String(d.channel) }])),
    channels: new Set(SEND_CHANNELS),
  };
}

/** What journeys may name: the store's segments and templates (any status), and those of `extra`. */
export async function journeyContext(
  definitions: DefinitionStore,
  extra: Documents = {},
): Promise<JourneyContext> {
  const [segments, templates] = await Promise.all([
    definitions.list('segment'),
    definitions.list('template'),
  ]);
  return contextOf({
    segments: [...segments.map((s) => ({ id: s.id })), ...(extra.segments ?? [])],
    templates: [...templates.map((t) => t.newest.document), ...(extra.templates ?? [])],
  });
}
