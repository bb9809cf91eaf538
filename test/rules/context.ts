/** An in-memory FactContext for tests: aggregates and first/last times computed from a history list. */
import { compile } from '../../rules/compile.ts';
import { durationMs } from '../../rules/durations.ts';
import type { AggregateSpec, EventFact, FactContext, ProfileFact } from '../../rules/types.ts';
import type { JsonObject } from '../../model/json.ts';

export interface HistoryEvent {
  name: string;
  timestamp: string;
  properties?: JsonObject;
}

export function profile(overrides: Partial<ProfileFact> = {}): ProfileFact {
  return {
    userId: 'u1',
    traits: {},
    tags: [],
    segments: [],
    lifecycle: null,
    lifecycleSince: null,
    createdAt: null,
    lastSeenAt: null,
    timezone: null,
    bucket: 0,
    ...overrides,
  };
}

export function event(
  name: string,
  properties: JsonObject = {},
  timestamp = '2026-03-14T12:00:00Z',
): EventFact {
  return { name, type: 'track', properties, traits: {}, timestamp };
}

export function makeContext(
  opts: {
    now?: string | number;
    timezone?: string;
    profile?: ProfileFact;
    event?: EventFact | null;
    history?: HistoryEvent[];
  } = {},
): FactContext {
  const now = typeof opts.now === 'number' ? opts.now : Date.parse(opts.now ?? '2026-03-14T12:00:00Z');
  const history = opts.history ?? [];
  const timesByName = new Map<string, string[]>();
  for (const e of history) timesByName.set(e.name, [...(timesByName.get(e.name) ?? []), e.timestamp].sort());
  const times = (name: string) => timesByName.get(name) ?? [];
  return {
    now,
    timezone: opts.timezone ?? 'UTC',
    profile: opts.profile ?? profile(),
    event: opts.event === undefined ? null : opts.event,
    aggregate(spec: AggregateSpec) {
      const where = spec.where ? compile(spec.where) : null;
      const from = spec.within ? now - durationMs(spec.within) : -Infinity;
      const matching = history.filter((e) => {
        const t = Date.parse(e.timestamp);
        if (e.name !== spec.event || t < from || t > now) return false;
        return !where || where({ ...this, event: event(e.name, e.properties ?? {}, e.timestamp) });
      });
      const numbers = (events: HistoryEvent[]) =>
        events.map((e) => e.properties?.[spec.property ?? '']).filter((v) => typeof v === 'number');
      if (spec.per !== undefined) {
        const groups = new Map<string, HistoryEvent[]>();
        for (const e of matching) {
          const v = e.properties?.[spec.per];
          if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) continue;
          groups.set(JSON.stringify(v), [...(groups.get(JSON.stringify(v)) ?? []), e]);
        }
        const results = [...groups.values()]
          .map((g) => (spec.fn === 'count' ? g : numbers(g)))
          .filter((g) => g.length > 0)
          .map((g) => (spec.fn === 'count' ? g.length : (g as number[]).reduce((a, b) => a + b, 0)));
        return results.length === 0 ? 0 : Math.max(...results);
      }
      if (spec.fn === 'count') return matching.length;
      const values = numbers(matching);
      if (spec.fn === 'sum') return values.reduce((a, b) => a + b, 0);
      if (values.length === 0) return null;
      if (spec.fn === 'avg') return values.reduce((a, b) => a + b, 0) / values.length;
      return spec.fn === 'min' ? Math.min(...values) : Math.max(...values);
    },
    lastEventAt: (name) => times(name).at(-1) ?? null,
    firstEventAt: (name) => times(name)[0] ?? null,
  };
}
