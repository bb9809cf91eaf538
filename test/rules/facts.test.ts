import { test } from 'node:test';
import assert from 'node:assert/strict';
import { factValue } from '../../rules/facts.ts';
import { compile, referenceEvaluator } from '../../rules/evaluate.ts';
import type { Condition } from '../../rules/types.ts';
import { event, makeContext, profile, type HistoryEvent } from './context.ts';
import { evaluateBoth } from './helpers.ts';

const history: HistoryEvent[] = [
  { name: 'order', timestamp: '2026-01-01T00:00:00Z', properties: { amount: 100, category: 'bags' } },
  { name: 'order', timestamp: '2026-03-01T00:00:00Z', properties: { amount: 20, category: 'shoes' } },
  { name: 'order', timestamp: '2026-03-13T00:00:00Z', properties: { amount: 30, category: 'shoes' } },
  { name: 'view', timestamp: '2026-03-14T11:00:00Z', properties: { category: 'shoes' } },
];
const shopper = makeContext({
  history,
  event: event('order', { amount: 30, category: 'shoes', items: [{ sku: 'A1' }] }),
  profile: profile({
    traits: { city: 'Shanghai', age: 31, vip: null, interests: ['running'], birthday: '1990-03-14' },
    tags: ['vip'],
    segments: ['big_spenders'],
    lifecycle: 'active',
    createdAt: '2025-06-01T00:00:00Z',
  }),
});
const newcomer = makeContext({ profile: profile({ traits: {} }) });

const leaf = (c: Condition) => c;

test('event: the current event, by path', async () => {
  assert.equal(
    await evaluateBoth({ fact: 'event', path: '$.name', operator: 'equal', value: 'order' }, shopper),
    true,
  );
  assert.equal(
    await evaluateBoth(
      { fact: 'event', path: '$.properties.amount', operator: 'greaterThanInclusive', value: 30 },
      shopper,
    ),
    true,
  );
  assert.equal(
    await evaluateBoth(
      { fact: 'event', path: '$.properties.items[0].sku', operator: 'equal', value: 'A1' },
      shopper,
    ),
    true,
  );
  assert.equal(
    await evaluateBoth(
      { fact: 'event', path: '$.properties.missing', operator: 'equal', value: null },
      shopper,
    ),
    false,
    'a missing path is undefined, not null',
  );
});

test('event: null when evaluating on a timer (a path on null gives null)', async () => {
  assert.equal(factValue('event', {}, newcomer), null);
  assert.equal(
    await evaluateBoth({ fact: 'event', path: '$.name', operator: 'equal', value: 'order' }, newcomer),
    false,
  );
  assert.equal(
    await evaluateBoth({ fact: 'event', path: '$.name', operator: 'equal', value: null }, newcomer),
    true,
  );
  assert.equal(
    await evaluateBoth({ fact: 'event', path: '$.name', operator: 'notEqual', value: 'order' }, newcomer),
    true,
  );
});

test('profile: traits, tags, segments, lifecycle', async () => {
  assert.equal(
    await evaluateBoth(
      { fact: 'profile', path: '$.traits.city', operator: 'in', value: ['Shanghai', 'Beijing'] },
      shopper,
    ),
    true,
  );
  assert.equal(
    await evaluateBoth({ fact: 'profile', path: '$.traits.age', operator: 'lessThan', value: 35 }, shopper),
    true,
  );
  assert.equal(
    await evaluateBoth(
      { fact: 'profile', path: '$.traits.interests', operator: 'contains', value: 'running' },
      shopper,
    ),
    true,
  );
  assert.equal(await evaluateBoth({ fact: 'profile', operator: 'hasTag', value: 'vip' }, shopper), true);
  assert.equal(
    await evaluateBoth({ fact: 'profile', path: '$.tags', operator: 'hasTag', value: 'vip' }, shopper),
    true,
  );
  assert.equal(
    await evaluateBoth({ fact: 'profile', operator: 'inSegment', value: 'big_spenders' }, shopper),
    true,
  );
  assert.equal(
    await evaluateBoth({ fact: 'profile', path: '$.lifecycle', operator: 'equal', value: 'active' }, shopper),
    true,
  );
  assert.equal(
    await evaluateBoth(
      { fact: 'profile', path: '$.createdAt', operator: 'olderThan', value: 'P180D' },
      shopper,
    ),
    true,
  );
  assert.equal(
    await evaluateBoth(
      { fact: 'profile', path: '$.traits.birthday', operator: 'anniversaryToday', value: true },
      shopper,
    ),
    true,
  );
});

test('profile: missing traits and null values', async () => {
  const missing = { fact: 'profile', path: '$.traits.city' } as const;
  assert.equal(await evaluateBoth({ ...missing, operator: 'equal', value: 'Shanghai' }, newcomer), false);
  assert.equal(await evaluateBoth({ ...missing, operator: 'notEqual', value: 'Shanghai' }, newcomer), true);
  assert.equal(
    await evaluateBoth({ ...missing, operator: 'equal', value: null }, newcomer),
    false,
    'missing is not null',
  );
  assert.equal(await evaluateBoth({ ...missing, operator: 'notIn', value: ['Shanghai'] }, newcomer), true);
  assert.equal(await evaluateBoth({ ...missing, operator: 'greaterThan', value: 0 }, newcomer), false);
  assert.equal(await evaluateBoth({ ...missing, operator: 'lessThan', value: 0 }, newcomer), false);
  assert.equal(await evaluateBoth({ ...missing, operator: 'contains', value: 'x' }, newcomer), false);
  assert.equal(
    await evaluateBoth({ ...missing, operator: 'doesNotContain', value: 'x' }, newcomer),
    false,
    'not an array',
  );
  assert.equal(await evaluateBoth({ ...missing, operator: 'withinLast', value: 'P1D' }, newcomer), false);
  assert.equal(await evaluateBoth({ ...missing, operator: 'notWithinLast', value: 'P1D' }, newcomer), true);
  assert.equal(
    await evaluateBoth({ ...missing, operator: 'anniversaryToday', value: true }, newcomer),
    false,
  );
  const nul = { fact: 'profile', path: '$.traits.vip' } as const;
  assert.equal(await evaluateBoth({ ...nul, operator: 'equal', value: null }, shopper), true);
  assert.equal(await evaluateBoth({ ...nul, operator: 'greaterThanInclusive', value: 0 }, shopper), false);
  assert.equal(
    await evaluateBoth(
      { fact: 'profile', path: '$.traits.vip.level', operator: 'equal', value: null },
      shopper,
    ),
    false,
    'below null is undefined',
  );
  await assert.rejects(
    evaluateBoth(
      { ...missing, operator: 'in', value: { fact: 'profile', path: '$.traits.cities' } },
      newcomer,
    ),
    TypeError,
    'in against a missing list throws in json-rules-engine (b.indexOf of undefined), and so in compile',
  );
});

test('aggregate: count / sum / avg / min / max, within and where', async () => {
  const agg = (params: Record<string, unknown>, operator: string, value: number) =>
    leaf({ fact: 'aggregate', params: params as never, operator, value });
  assert.equal(await evaluateBoth(agg({ event: 'order', fn: 'count' }, 'equal', 3), shopper), true);
  assert.equal(
    await evaluateBoth(agg({ event: 'order', fn: 'count', within: 'P30D' }, 'equal', 2), shopper),
    true,
  );
  assert.equal(
    await evaluateBoth(agg({ event: 'order', fn: 'sum', property: 'amount' }, 'equal', 150), shopper),
    true,
  );
  assert.equal(
    await evaluateBoth(agg({ event: 'order', fn: 'avg', property: 'amount' }, 'equal', 50), shopper),
    true,
  );
  assert.equal(
    await evaluateBoth(agg({ event: 'order', fn: 'min', property: 'amount' }, 'equal', 20), shopper),
    true,
  );
  assert.equal(
    await evaluateBoth(agg({ event: 'order', fn: 'max', property: 'amount' }, 'equal', 100), shopper),
    true,
  );
  const where = {
    all: [{ fact: 'event', path: '$.properties.category', operator: 'equal', value: 'shoes' }],
  };
  assert.equal(await evaluateBoth(agg({ event: 'order', fn: 'count', where }, 'equal', 2), shopper), true);
  assert.equal(
    await evaluateBoth(agg({ event: 'view', fn: 'count', within: 'PT2H', where }, 'equal', 1), shopper),
    true,
  );
});

test('aggregate per: the largest group; invalid per throws in both evaluators', async () => {
  const viewer = makeContext({
    history: [
      { name: 'view', timestamp: '2026-03-14T09:00:00Z', properties: { productId: 'p1', price: 5 } },
      { name: 'view', timestamp: '2026-03-14T10:00:00Z', properties: { productId: 'p1', price: 5 } },
      { name: 'view', timestamp: '2026-03-14T11:00:00Z', properties: { productId: 'p2', price: 30 } },
      { name: 'view', timestamp: '2026-03-14T11:00:00Z', properties: { price: 50 } },
    ],
  });
  const views = (params: Record<string, unknown>, operator: string, value: number) =>
    leaf({
      fact: 'aggregate',
      params: { event: 'view', within: 'P1D', ...params } as never,
      operator,
      value,
    });
  assert.equal(await evaluateBoth(views({ fn: 'count', per: 'productId' }, 'equal', 2), viewer), true);
  assert.equal(await evaluateBoth(views({ fn: 'count' }, 'equal', 4), viewer), true);
  assert.equal(
    await evaluateBoth(views({ fn: 'sum', property: 'price', per: 'productId' }, 'equal', 30), viewer),
    true,
  );
  assert.equal(await evaluateBoth(views({ fn: 'count', per: 'productId' }, 'equal', 0), newcomer), true);
  for (const params of [
    { fn: 'count', per: 'productId', within: undefined },
    { fn: 'max', property: 'price', per: 'productId' },
    { fn: 'count', per: '' },
  ]) {
    await assert.rejects(evaluateBoth(views(params, 'equal', 1), viewer), /per/, JSON.stringify(params));
  }
});

test('aggregate: empty history is count 0 and sum 0, avg/min/max null', async () => {
  const agg = (fn: string, operator: string, value: unknown) =>
    leaf({
      fact: 'aggregate',
      params: { event: 'order', fn, property: 'amount' },
      operator,
      value: value as never,
    });
  assert.equal(await evaluateBoth(agg('count', 'equal', 0), newcomer), true);
  assert.equal(await evaluateBoth(agg('sum', 'equal', 0), newcomer), true);
  assert.equal(await evaluateBoth(agg('avg', 'equal', null), newcomer), true);
  assert.equal(await evaluateBoth(agg('avg', 'lessThan', 50), newcomer), false, 'null is not a number');
  assert.equal(await evaluateBoth(agg('max', 'greaterThan', 0), newcomer), false);
});

test('lastEventAt / firstEventAt: timestamps, or null without history', async () => {
  assert.equal(factValue('lastEventAt', { event: 'order' }, shopper), '2026-03-13T00:00:00Z');
  assert.equal(factValue('firstEventAt', { event: 'order' }, shopper), '2026-01-01T00:00:00Z');
  assert.equal(factValue('lastEventAt', { event: 'order' }, newcomer), null);
  const last = (operator: string, value: string) =>
    leaf({ fact: 'lastEventAt', params: { event: 'order' }, operator, value });
  const first = (operator: string, value: string) =>
    leaf({ fact: 'firstEventAt', params: { event: 'order' }, operator, value });
  assert.equal(await evaluateBoth(last('withinLast', 'P7D'), shopper), true);
  assert.equal(await evaluateBoth(last('notWithinLast', 'P7D'), shopper), false);
  assert.equal(await evaluateBoth(first('olderThan', 'P60D'), shopper), true);
  assert.equal(await evaluateBoth(last('withinLast', 'P7D'), newcomer), false);
  assert.equal(await evaluateBoth(last('notWithinLast', 'P7D'), newcomer), true, 'never ordered: not within');
  assert.equal(await evaluateBoth(first('olderThan', 'P1D'), newcomer), false);
  assert.equal(
    await evaluateBoth(
      { fact: 'lastEventAt', params: { event: 'order' }, operator: 'equal', value: null },
      newcomer,
    ),
    true,
  );
});

test('a fact compared with another fact ({ fact } value)', async () => {
  const moreThanUsual = leaf({
    fact: 'event',
    path: '$.properties.amount',
    operator: 'greaterThan',
    value: { fact: 'aggregate', params: { event: 'order', fn: 'min', property: 'amount' } },
  });
  assert.equal(await evaluateBoth(moreThanUsual, shopper), true);
});

test('unknown facts are undefined (allowUndefinedFacts); bad params throw in both evaluators', async () => {
  assert.equal(await evaluateBoth({ fact: 'weather', operator: 'equal', value: 'sunny' }, shopper), false);
  assert.equal(await evaluateBoth({ fact: 'weather', operator: 'notEqual', value: 'sunny' }, shopper), true);
  await assert.rejects(
    evaluateBoth({ fact: 'lastEventAt', operator: 'equal', value: null }, shopper),
    /params/,
  );
  await assert.rejects(
    evaluateBoth(
      { fact: 'aggregate', params: { event: 'order', fn: 'median' }, operator: 'equal', value: 1 },
      shopper,
    ),
    /fn/,
  );
});

test('boolean nodes: all / any / not, empty lists pass (json-rules-engine)', async () => {
  const city = { fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Shanghai' } as const;
  const orders = {
    fact: 'aggregate',
    params: { event: 'order', fn: 'count' },
    operator: 'greaterThan',
    value: 5,
  } as const;
  assert.equal(await evaluateBoth({ all: [city, orders] }, shopper), false);
  assert.equal(await evaluateBoth({ any: [city, orders] }, shopper), true);
  assert.equal(await evaluateBoth({ not: orders }, shopper), true);
  assert.equal(await evaluateBoth({ all: [{ any: [orders, { not: city }] }] }, shopper), false);
  assert.equal(await evaluateBoth({ all: [] }, shopper), true);
  assert.equal(await evaluateBoth({ any: [] }, shopper), true, 'json-rules-engine: an empty any passes too');
  assert.equal(await evaluateBoth(city, shopper), true, 'a bare leaf is evaluated as { all: [leaf] }');
});

test('malformed structure: compile throws at once, the reference when run', async () => {
  for (const bad of [{ all: {} }, { not: [] }, { any: [{ fact: 'profile', operator: 'equal' }] }]) {
    assert.throws(() => compile(bad as never));
    await assert.rejects(referenceEvaluator(bad as never)(shopper));
  }
});
