/** Seeded generators of conditions and fact contexts for the differential test. */
import { BUILTIN_OPERATOR_NAMES } from '../../rules/builtin-operators.ts';
import { CUSTOM_OPERATOR_NAMES } from '../../rules/operators.ts';
import type { AggregateSpec, Condition, FactContext, LeafCondition } from '../../rules/types.ts';
import type { Json, JsonObject } from '../../model/json.ts';
import { event, makeContext, profile, type HistoryEvent } from './context.ts';
import { prng } from '../../dev/random.ts';

const rand = prng(20260314);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
const chance = (p: number) => rand() < p;

const EVENTS = ['order', 'view', 'signup'];
const TAGS = ['vip', 'price_sensitive', 'new', ''];
const SCALARS: Json[] = [
  'Shanghai',
  'Beijing',
  'order',
  'view',
  5,
  10,
  0,
  -1,
  2.5,
  '5',
  '',
  true,
  false,
  null,
];
const DURATIONS = ['P1D', 'P7D', 'P30D', 'PT1H', 'P1Y', 'P1M', 'bogus', 'PT0S'];
const DATES = [
  '1990-03-14',
  '1992-02-29',
  '2000-03-15',
  '1985-02-28',
  '2026-03-13T23:30:00Z',
  '2026-03-14T10:00:00+08:00',
  '2026-03-01',
  '2025-12-31T16:00:00Z',
  'not a date',
  '',
];
const PROFILE_PATHS = [
  '$.traits.city',
  '$.traits.age',
  '$.traits.birthday',
  '$.traits.list',
  '$.traits.list[0]',
  '$.traits.missing',
  '$.traits.nul',
  '$.traits.nested.a.b',
  '$.traits.city.length',
  '$.tags',
  '$.segments',
  '$.createdAt',
  '$.lastSeenAt',
  '$.lifecycle',
  '$.traits.*',
  '$..city',
  "$.traits['city']",
  '$.traits["list"][1]',
];
const EVENT_PATHS = [
  '$.name',
  '$.properties.amount',
  '$.properties.category',
  '$.timestamp',
  '$.properties.items[0].sku',
];
const OPERATORS = [...BUILTIN_OPERATOR_NAMES, ...CUSTOM_OPERATOR_NAMES];

function aggregateParams(): JsonObject {
  const fn = pick(['count', 'sum', 'avg', 'min', 'max']);
  const params: JsonObject = { event: pick(EVENTS), fn };
  if (fn !== 'count') params.property = 'amount';
  if (chance(0.5)) params.within = pick(['P1D', 'P7D', 'P30D']);
  if (chance(0.3)) params.where = { all: [leafOn('event', 2) as unknown as JsonObject] };
  if ((fn === 'count' || fn === 'sum') && chance(0.4)) {
    params.per = pick(['category', 'category', 'amount', 'missing']);
    // Always valid: a fact that throws next to a throwing sibling leaves json-rules-engine with an
    // unhandled rejection (facts.test.ts checks that an invalid per throws in both evaluators).
    params.within ??= pick(['P1D', 'P7D', 'P30D']);
  }
  return params;
}

function factRef(): JsonObject {
  return chance(0.5)
    ? { fact: 'profile', path: pick(PROFILE_PATHS) }
    : pick<JsonObject>([
        { fact: 'event', path: pick(EVENT_PATHS) },
        { fact: 'lastEventAt', params: { event: 'order' } },
      ]);
}

function valueFor(operator: string): Json {
  if (chance(0.08)) return factRef();
  if (chance(0.05)) return pick(SCALARS);
  switch (operator) {
    case 'in':
    case 'notIn':
      return chance(0.1) ? pick(['Shanghai', 'abc']) : [pick(SCALARS), pick(SCALARS)];
    case 'withinLast':
    case 'notWithinLast':
    case 'olderThan':
      return pick(DURATIONS);
    case 'anniversaryToday':
      return chance(0.7);
    case 'hasTag':
    case 'inSegment':
      return pick(TAGS);
    case 'lessThan':
    case 'lessThanInclusive':
    case 'greaterThan':
    case 'greaterThanInclusive':
      return chance(0.9) ? pick([0, 1, 3, 5, 10, 29.5, -2]) : '10';
    default:
      return pick(SCALARS);
  }
}

function leafOn(fact: string, depth = 0): LeafCondition {
  const operator = pick(OPERATORS);
  const leaf: LeafCondition = { fact, operator, value: valueFor(operator) };
  if (fact === 'profile' && chance(0.85)) leaf.path = pick(PROFILE_PATHS);
  if (fact === 'event' && chance(0.85)) leaf.path = pick(EVENT_PATHS);
  if (fact === 'aggregate' && depth < 2) leaf.params = aggregateParams();
  if (fact === 'aggregate' && depth >= 2) leaf.params = { event: 'order', fn: 'count' };
  if (fact === 'lastEventAt' || fact === 'firstEventAt') leaf.params = { event: pick(EVENTS) };
  if (chance(0.05)) leaf.path = '$.x';
  if (chance(0.15)) leaf.priority = pick([1, 2, 3]);
  return leaf;
}

export function condition(depth: number): Condition {
  if (depth >= 3 || chance(0.35)) {
    return leafOn(
      pick(['event', 'profile', 'profile', 'aggregate', 'lastEventAt', 'firstEventAt', 'unknown']),
    );
  }
  const kind = pick(['all', 'any', 'any', 'all', 'not']);
  const priority = chance(0.2) ? { priority: pick([1, 2, 3]) } : {};
  if (kind === 'not') return { not: condition(depth + 1), ...priority };
  const children = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => condition(depth + 1));
  return kind === 'all' ? { all: children, ...priority } : { any: children, ...priority };
}

function traitValue(): Json | undefined {
  return pick<Json | undefined>([
    undefined,
    null,
    'Shanghai',
    5,
    0,
    '10',
    [],
    ['vip', 5],
    { a: { b: 3 } },
    true,
  ]);
}

function randomTraits(): JsonObject {
  const traits: JsonObject = {};
  for (const key of ['city', 'age', 'list', 'nul', 'nested']) {
    const value = traitValue();
    if (value !== undefined) traits[key] = value;
  }
  if (chance(0.7)) traits.birthday = pick(DATES);
  if (chance(0.5)) traits.nul = null;
  return traits;
}

export function randomContext(): FactContext {
  const now = Date.parse(
    pick([
      '2026-03-14T20:00:00Z',
      '2026-03-14T12:00:00Z',
      '2024-02-29T12:00:00Z',
      '2025-02-28T10:00:00Z',
      '2026-01-01T00:00:00Z',
    ]),
  );
  const history: HistoryEvent[] = Array.from({ length: Math.floor(rand() * 6) }, () => ({
    name: pick(EVENTS),
    timestamp: new Date(now - Math.floor(rand() * 40 * 86_400_000)).toISOString(),
    properties: chance(0.8)
      ? { amount: pick([1, 5, 20, 99.5]), category: pick(['shoes', 'bags']) }
      : ({} as JsonObject),
  }));
  const current = chance(0.3)
    ? null
    : event(pick(EVENTS), chance(0.8) ? { amount: pick([0, 5, 20]), category: pick(['shoes', 'bags']) } : {});
  return makeContext({
    now,
    timezone: pick(['UTC', 'Asia/Shanghai', 'America/Los_Angeles', 'Not/AZone']),
    profile: profile({
      traits: randomTraits(),
      tags: chance(0.7) ? [pick(TAGS), pick(TAGS)] : [],
      segments: chance(0.5) ? ['vip'] : [],
      lifecycle: pick([null, 'active', 'dormant']),
      createdAt: pick([null, '2026-03-10T00:00:00Z', '2025-01-01']),
      lastSeenAt: pick([null, '2026-03-14T08:00:00Z', '2026-02-01T00:00:00Z']),
    }),
    event: current,
    history,
  });
}

/** Aggregates answered from a table, as the materialised ones are, instead of scanning the history. */
export function materialised(ctx: FactContext): FactContext {
  const bySpec = new WeakMap<AggregateSpec, number | null>();
  const byKey = new Map<string, number | null>();
  return {
    ...ctx,
    aggregate(spec) {
      let value = bySpec.get(spec);
      if (value === undefined) {
        const key = JSON.stringify(spec);
        value = byKey.get(key);
        if (value === undefined) byKey.set(key, (value = ctx.aggregate(spec)));
        bySpec.set(spec, value);
      }
      return value;
    },
  };
}
