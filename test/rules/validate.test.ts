import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import schema from '../../schemas/condition.schema.json' with { type: 'json' };
import { validateCondition } from '../../rules/validate.ts';

const pointers = (condition: unknown, base?: string) =>
  validateCondition(condition, base).map((f) => f.pointer);

const valid = [
  { all: [{ fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Shanghai' }] },
  {
    any: [{ fact: 'event', path: '$.name', operator: 'in', value: ['order', 'refund'] }],
    name: 'x',
    priority: 2,
  },
  { not: { fact: 'profile', operator: 'hasTag', value: 'vip' } },
  { fact: 'lastEventAt', params: { event: 'order' }, operator: 'notWithinLast', value: 'P30D' },
  { fact: 'firstEventAt', params: { event: 'signup' }, operator: 'olderThan', value: 'PT12H' },
  { fact: 'profile', path: '$.traits.birthday', operator: 'anniversaryToday', value: true },
  { fact: 'profile', operator: 'inSegment', value: 'big_spenders' },
  {
    fact: 'aggregate',
    params: {
      event: 'order',
      fn: 'sum',
      property: 'amount',
      within: 'P30D',
      where: { all: [{ fact: 'event', path: '$.properties.category', operator: 'equal', value: 'shoes' }] },
    },
    operator: 'greaterThanInclusive',
    value: 100,
  },
  {
    fact: 'event',
    path: '$.properties.amount',
    operator: 'greaterThan',
    value: { fact: 'aggregate', params: { event: 'order', fn: 'avg', property: 'amount' } },
  },
  { fact: 'profile', path: '$.traits.interests', operator: 'contains', value: 'running' },
  { fact: 'profile', path: '$.traits.vip', operator: 'equal', value: null },
  {
    fact: 'aggregate',
    params: { event: 'product_viewed', fn: 'count', within: 'PT24H', per: 'productId' },
    operator: 'greaterThanInclusive',
    value: 3,
  },
  {
    fact: 'aggregate',
    params: { event: 'order', fn: 'sum', property: 'amount', within: 'P30D', per: 'shopId' },
    operator: 'greaterThan',
    value: 100,
  },
];

test('valid conditions have no faults', () => {
  for (const condition of valid)
    assert.deepEqual(validateCondition(condition), [], JSON.stringify(condition));
});

test('structure: one of all / any / not, non-empty arrays, objects', () => {
  assert.deepEqual(pointers('x'), ['']);
  assert.deepEqual(pointers({ all: [] }), ['/all']);
  assert.deepEqual(pointers({ any: {} }), ['/any']);
  assert.deepEqual(pointers({ not: [] }), ['/not']);
  assert.deepEqual(pointers({ all: [null, 3] }), ['/all/0', '/all/1']);
  assert.deepEqual(pointers({ all: [{ fact: 'profile', operator: 'hasTag', value: 'a' }], any: [] }), [
    '',
    '/any',
  ]);
  assert.deepEqual(pointers({ all: [{ fact: 'profile', operator: 'hasTag', value: 'a' }], when: 1 }), [
    '/when',
  ]);
  assert.deepEqual(pointers({ all: [{ fact: 'profile', operator: 'hasTag', value: 'a' }], priority: 0 }), [
    '/priority',
  ]);
  assert.deepEqual(pointers({}), ['', '', '']);
  assert.match(validateCondition({})[0].message, /missing "fact"/);
});

test('unknown facts, operators and keys, with pointers into nested conditions', () => {
  const faults = validateCondition({
    all: [
      { fact: 'weather', operator: 'equal', value: 'sunny' },
      { any: [{ fact: 'profile', operator: 'startsWith', value: 'a', extra: true }] },
      { not: { fact: 'event', path: 'properties.amount', operator: 'someFact:equal', value: 1 } },
      { condition: 'shared' },
    ],
  });
  assert.deepEqual(
    faults.map((f) => f.pointer),
    [
      '/all/0/fact',
      '/all/1/any/0/extra',
      '/all/1/any/0/operator',
      '/all/2/not/path',
      '/all/2/not/operator',
      '/all/3',
      '/all/3',
      '/all/3',
      '/all/3/condition',
    ],
  );
  assert.match(
    faults[0].message,
    /unknown fact "weather"; facts are event, profile, aggregate, lastEventAt, firstEventAt/,
  );
  assert.match(faults[2].message, /unknown operator "startsWith"/);
});

test('wrong value types', () => {
  const leaf = (operator: string, value: unknown) => ({
    fact: 'profile',
    path: '$.traits.x',
    operator,
    value,
  });
  const faulty: [string, unknown][] = [
    ['in', 'Shanghai'],
    ['notIn', null],
    ['equal', ['a']],
    ['notEqual', { a: 1 }],
    ['contains', ['a']],
    ['greaterThan', '10'],
    ['lessThanInclusive', null],
    ['withinLast', 30],
    ['olderThan', 'P'],
    ['notWithinLast', 'P0D'],
    ['withinLast', '30 days'],
    ['anniversaryToday', 'true'],
    ['hasTag', ''],
    ['inSegment', 5],
  ];
  for (const [operator, value] of faulty) {
    assert.deepEqual(
      pointers({ any: [leaf(operator, value)] }),
      ['/any/0/value'],
      `${operator} ${JSON.stringify(value)}`,
    );
  }
  assert.match(validateCondition(leaf('withinLast', '30 days'))[0].message, /ISO 8601 duration/);
  assert.deepEqual(
    pointers(leaf('greaterThan', { fact: 'aggregate', params: { event: 'o', fn: 'count' } })),
    [],
  );
  assert.deepEqual(pointers(leaf('in', { fact: 'profile', path: '$.tags', extra: 1 })), ['/value/extra']);
  assert.deepEqual(pointers(leaf('in', { fact: 'nope' })), ['/value/fact']);
});

test('params per fact', () => {
  assert.deepEqual(pointers({ fact: 'profile', params: {}, operator: 'hasTag', value: 'a' }), ['/params']);
  assert.deepEqual(pointers({ fact: 'lastEventAt', operator: 'withinLast', value: 'P1D' }), ['']);
  assert.deepEqual(pointers({ fact: 'lastEventAt', params: [], operator: 'withinLast', value: 'P1D' }), [
    '/params',
  ]);
  assert.deepEqual(
    pointers({ fact: 'firstEventAt', params: { event: '', at: 1 }, operator: 'withinLast', value: 'P1D' }),
    ['/params/at', '/params/event'],
  );
  const agg = (params: unknown) =>
    pointers({ fact: 'aggregate', params, operator: 'greaterThan', value: 1 }, '/rules/0/when');
  assert.deepEqual(agg(undefined), ['/rules/0/when/params']);
  assert.deepEqual(agg({}), ['/rules/0/when/params', '/rules/0/when/params']);
  assert.deepEqual(agg({ event: 'order', fn: 'median' }), ['/rules/0/when/params/fn']);
  assert.deepEqual(agg({ event: 'order', fn: 'sum' }), ['/rules/0/when/params']);
  assert.deepEqual(agg({ event: 'order', fn: 'count', within: 'P-1D', by: 'day' }), [
    '/rules/0/when/params/by',
    '/rules/0/when/params/within',
  ]);
  assert.deepEqual(
    agg({
      event: 'order',
      fn: 'count',
      where: {
        all: [
          { fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'x' },
          {
            fact: 'event',
            path: '$.properties.a',
            operator: 'equal',
            value: { fact: 'lastEventAt', params: { event: 'x' } },
          },
          { fact: 'event', path: '$.properties.a', operator: 'in', value: 'x' },
        ],
      },
    }),
    [
      '/rules/0/when/params/where/all/0/fact',
      '/rules/0/when/params/where/all/1/value/fact',
      '/rules/0/when/params/where/all/2/value',
    ],
  );
});

test('aggregate per: a property name, with within, for count or sum', () => {
  const agg = (params: unknown) =>
    validateCondition({ fact: 'aggregate', params, operator: 'greaterThan', value: 1 }, '/when');
  const at = '/when/params/per';
  const views = { event: 'product_viewed', fn: 'count', within: 'PT24H' };
  assert.deepEqual(agg({ ...views, per: 'productId' }), []);
  assert.deepEqual(
    agg({ event: 'product_viewed', fn: 'count', per: 'productId' }).map((f) => f.pointer),
    [at],
  );
  assert.match(
    agg({ event: 'product_viewed', fn: 'count', per: 'productId' })[0].message,
    /needs params.within/,
  );
  for (const per of ['', 3, null, ['productId']]) {
    const faults = agg({ ...views, per });
    assert.deepEqual(
      faults.map((f) => f.pointer),
      [at],
      JSON.stringify(per),
    );
    assert.match(faults[0].message, /event property name/);
  }
  for (const fn of ['avg', 'min', 'max']) {
    const faults = agg({ ...views, fn, property: 'price', per: 'productId' });
    assert.deepEqual(
      faults.map((f) => f.pointer),
      [at],
    );
    assert.match(faults[0].message, new RegExp(`count or sum, not ${fn}`));
  }
  // The window is bounded: 200 groups of at most 32 daily buckets.
  assert.deepEqual(agg({ ...views, within: 'P31D', per: 'productId' }), []);
  assert.deepEqual(
    agg({ ...views, within: 'P32D', per: 'productId' }).map((f) => f.pointer),
    ['/when/params/within'],
  );
  // Every fault of per, each at per.
  assert.deepEqual(
    agg({ event: 'e', fn: 'max', property: 'price', per: '' }).map((f) => f.pointer),
    [at, at, at],
  );
});

test('JSON pointers escape ~ and /', () => {
  assert.deepEqual(pointers({ fact: 'profile', operator: 'hasTag', value: 'a', 'a/b~c': 1 }), ['/a~1b~0c']);
});

test('the JSON Schema compiles with ajv and agrees on structure', () => {
  const validate = new Ajv({ allErrors: true }).compile(schema);
  for (const condition of valid) assert.equal(validate(condition), true, JSON.stringify(validate.errors));
  const structurallyWrong = [
    { all: [] },
    {
      all: [{ fact: 'profile', operator: 'hasTag', value: 'a' }],
      any: [{ fact: 'profile', operator: 'hasTag', value: 'a' }],
    },
    { not: [] },
    { fact: 'weather', operator: 'equal', value: 1 },
    { fact: 'profile', operator: 'startsWith', value: 1 },
    { fact: 'profile', operator: 'equal', value: 1, path: 'traits.city' },
    { fact: 'profile', operator: 'equal', value: 1, extra: 1 },
    { fact: 'aggregate', operator: 'equal', value: 1 },
    { fact: 'aggregate', operator: 'equal', value: 1, params: { event: 'o', fn: 'sum' } },
    { fact: 'aggregate', operator: 'equal', value: 1, params: { event: 'o', fn: 'count', within: 'P' } },
    { fact: 'lastEventAt', operator: 'equal', value: 1, params: {} },
    { fact: 'aggregate', operator: 'equal', value: 1, params: { event: 'o', fn: 'count', per: 'sku' } },
    {
      fact: 'aggregate',
      operator: 'equal',
      value: 1,
      params: { event: 'o', fn: 'avg', property: 'a', within: 'P1D', per: 'sku' },
    },
    {
      fact: 'aggregate',
      operator: 'equal',
      value: 1,
      params: { event: 'o', fn: 'count', within: 'P1D', per: '' },
    },
    { fact: 'profile', operator: 'equal', value: { fact: 'nope' } },
  ];
  for (const condition of structurallyWrong) {
    assert.equal(validate(condition), false, JSON.stringify(condition));
    assert.notDeepEqual(validateCondition(condition), [], JSON.stringify(condition));
  }
});
