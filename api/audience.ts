import { stringify } from 'csv-stringify/sync';
import { jsonBody } from './body.ts';
import express, { type Router } from 'express';
import type { Profile } from '../model/profile.ts';
import type { Store } from '../ports/store.ts';
import { aggregateEventOf, aggregateId, fullEvaluate } from '../rules/aggregates.ts';
import { compile, type ConditionDependencies, dependencies, type Predicate } from '../rules/index.ts';
import type { AggregateSpec, Condition, FactContext, RuleFault } from '../rules/types.ts';
import { eventFact, profileContext } from '../segments/context.ts';
import { holds } from '../segments/membership.ts';
import { validateSegment } from '../segments/segment.ts';
import { validateTagRule } from '../segments/tag-rule.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { InputError } from '../model/input-error.ts';

const PAGE = 500;

/** A member in a preview's sample: a known user by id and name, an anonymous visitor by their id. */
interface Member {
  userId: string | null;
  anonymousId: string | null;
  anonymousIds: string[];
  name: string | null;
  anonymous: boolean;
}

const memberOf = (profile: Profile): Member => ({
  userId: profile.userId,
  anonymousId: profile.userId ? null : profile.key.slice(2),
  anonymousIds: profile.anonymousIds,
  name: typeof profile.traits.name === 'string' ? profile.traits.name : null,
  anonymous: profile.userId === null,
});
const HISTORY = 10_000;

/**
 * The facts of one user for a condition that may not be published yet: aggregates and event times
 * the workspace keeps come from the profile; the others are computed from the user's stored history.
 */
async function previewContext(
  store: Store,
  profile: Profile,
  now: number,
  workspace: Workspace,
  reads: ConditionDependencies,
): Promise<FactContext> {
  const base = profileContext(profile, now, { timezone: workspace.timezone });
  const kept = new Set(workspace.aggregates.map((a) => a.id));
  const missing = reads.aggregates.some((spec) => !kept.has(aggregateId(spec)));
  if (!missing && reads.events.every((name) => workspace.trackedEvents.has(name))) return base;

  const history = (await store.recentEvents(profile.key, HISTORY))
    .filter((e) => e.type !== 'internal')
    .map(aggregateEventOf);
  const times = new Map<string, [number, number]>();
  for (const e of history) {
    const t = times.get(e.name);
    times.set(
      e.name,
      t ? [Math.min(t[0], e.timestamp), Math.max(t[1], e.timestamp)] : [e.timestamp, e.timestamp],
    );
  }
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    ...base,
    aggregate: (spec: AggregateSpec) => {
      if (kept.has(aggregateId(spec))) return base.aggregate(spec);
      const where = spec.where ? compile(spec.where) : null;
      const filter = where ? (event: FactContext['event']) => holds(where, { ...base, event }) : undefined;
      return fullEvaluate(spec, history, now, filter);
    },
    lastEventAt: (name: string) => iso(times.get(name)?.[1]),
    firstEventAt: (name: string) => iso(times.get(name)?.[0]),
  };
}

/** Segment and tag rule previews (before publishing) and membership export. */
export function audienceRoutes(
  keys: KeyRing,
  store: Store,
  workspace: () => Workspace,
  now: () => number,
): Router {
  const router = express.Router();
  const read = requireScope(keys, 'read');

  const limitOf = (value: unknown, faults: RuleFault[]): number => {
    const limit = value === undefined ? 20 : Number(value);
    if (!Number.isInteger(limit) || limit < 0 || limit > 100) {
      faults.push({ pointer: '/limit', message: 'must be an integer from 0 to 100' });
    }
    return limit;
  };

  /** Every profile the condition holds for (as `matches` reads it), counted, with a sample. */
  const scan = async (
    condition: Condition,
    limit: number,
    matches: (profile: Profile, context: FactContext, predicate: Predicate) => Promise<boolean> | boolean,
  ) => {
    const predicate = compile(condition);
    const reads = dependencies(condition);
    const ws = workspace();
    const at = now();
    let scanned = 0;
    let count = 0;
    const sample: Member[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.scanProfiles(cursor, PAGE);
      for (const profile of page.profiles) {
        scanned++;
        if (!(await matches(profile, await previewContext(store, profile, at, ws, reads), predicate)))
          continue;
        count++;
        if (sample.length < limit) sample.push(memberOf(profile));
      }
      cursor = page.cursor;
    } while (cursor !== null);
    return { count, scanned, sample, at: new Date(at).toISOString() };
  };

  router.post(
    '/v1/segments/preview',
    read,
    jsonBody({ limit: '256kb', type: () => true }),
    async (req, res) => {
      const body = (req.body ?? {}) as { condition?: unknown; limit?: unknown };
      const faults = validateSegment({
        id: 'preview',
        version: 1,
        name: 'preview',
        condition: body.condition,
      }).faults;
      const limit = limitOf(body.limit, faults);
      if (faults.length > 0) throw InputError.invalid(faults);
      res.json(
        await scan(body.condition as Condition, limit, (_p, context, predicate) => holds(predicate, context)),
      );
    },
  );

  // A tag rule reacts to events: a user counts when the rule holds for one of their stored events
  // (with their aggregates as they are now), or for no event when the rule reads none.
  router.post(
    '/v1/tag-rules/preview',
    read,
    jsonBody({ limit: '256kb', type: () => true }),
    async (req, res) => {
      const body = (req.body ?? {}) as { conditions?: unknown; limit?: unknown };
      const faults = validateTagRule({
        id: 'preview',
        version: 1,
        name: 'preview',
        conditions: body.conditions,
        event: { type: 'add_tags', params: { tags: ['preview'] } },
      }).faults.filter((f) => f.pointer === '' || f.pointer.startsWith('/conditions'));
      const limit = limitOf(body.limit, faults);
      if (faults.length > 0) throw InputError.invalid(faults);
      const conditions = body.conditions as Condition;
      const readsEvent = dependencies(conditions).readsEvent;
      res.json(
        await scan(conditions, limit, async (profile, context, predicate) => {
          if (!readsEvent) return holds(predicate, context);
          const history = (await store.recentEvents(profile.key, HISTORY)).filter(
            (e) => e.type !== 'internal',
          );
          return history.some((e) => holds(predicate, { ...context, event: eventFact(e) }));
        }),
      );
    },
  );

  router.get('/v1/segments/:id/members', read, async (req, res) => {
    const id = String(req.params.id);
    const format = req.query.format === undefined ? 'jsonl' : String(req.query.format);
    if (format !== 'jsonl' && format !== 'csv') {
      throw InputError.invalid([{ pointer: '/query/format', message: 'must be jsonl or csv' }]);
    }
    if (!workspace().segments.some((s) => s.id === id))
      throw new InputError(404, 'not_found', `no live segment '${id}'`);
    res.setHeader(
      'content-type',
      format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    );
    res.setHeader('content-disposition', `attachment; filename="${id}-members.${format}"`);
    // Formula escaping: a cell starting with = + - @ tab or CR would run in a spreadsheet.
    const csv = (rows: unknown[][]) => stringify(rows, { escape_formulas: true, eof: true });
    if (format === 'csv') res.write(csv([['user_id', 'anonymous_ids', 'email', 'phone', 'lifecycle']]));
    let cursor: string | null = null;
    do {
      // The store's segment filter: only the members are read.
      const page = await store.scanProfiles(cursor, PAGE, { segment: id });
      let chunk = '';
      for (const p of page.profiles) {
        if (!p.segments.includes(id)) continue;
        const row = {
          userId: p.userId,
          anonymousIds: p.anonymousIds,
          email: p.traits.email ?? null,
          phone: p.traits.phone ?? null,
          lifecycle: p.lifecycle?.state ?? null,
        };
        chunk +=
          format === 'csv'
            ? csv([[row.userId, row.anonymousIds.join(';'), row.email, row.phone, row.lifecycle]])
            : `${JSON.stringify(row)}\n`;
      }
      if (chunk && !res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      cursor = page.cursor;
    } while (cursor !== null);
    res.end();
  });
  return router;
}
