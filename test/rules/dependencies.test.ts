import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dependencies } from '../../rules/dependencies.ts';

test('dependencies: events, trait paths, aggregates, time and the current event', () => {
  const where = {
    all: [{ fact: 'event', path: '$.properties.category', operator: 'equal', value: 'shoes' }],
  };
  const deps = dependencies({
    all: [
      { fact: 'event', path: '$.name', operator: 'equal', value: 'order' },
      { fact: 'event', path: '$.name', operator: 'in', value: ['refund', 'cancel'] },
      { fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Shanghai' },
      {
        any: [
          { fact: 'profile', operator: 'hasTag', value: 'vip' },
          { fact: 'profile', operator: 'inSegment', value: 's' },
        ],
      },
      {
        not: {
          fact: 'aggregate',
          params: { event: 'view', fn: 'count', where },
          operator: 'greaterThan',
          value: 3,
        },
      },
      { fact: 'lastEventAt', params: { event: 'signup' }, operator: 'equal', value: null },
      {
        fact: 'event',
        path: '$.properties.amount',
        operator: 'greaterThan',
        value: { fact: 'profile', path: '$.traits.usual' },
      },
    ],
  });
  assert.deepEqual(deps, {
    events: ['cancel', 'order', 'refund', 'signup', 'view'],
    traits: ['$.segments', '$.tags', '$.traits.city', '$.traits.usual'],
    aggregates: [{ event: 'view', fn: 'count', where }],
    timeRelative: false,
    readsEvent: true,
  });
});

test('dependencies: time-relative operators and windowed aggregates', () => {
  for (const operator of ['withinLast', 'notWithinLast', 'olderThan']) {
    const deps = dependencies({ fact: 'firstEventAt', params: { event: 'order' }, operator, value: 'P1D' });
    assert.equal(deps.timeRelative, true, operator);
    assert.deepEqual(deps.events, ['order']);
    assert.equal(deps.readsEvent, false);
  }
  assert.equal(
    dependencies({ fact: 'profile', path: '$.traits.birthday', operator: 'anniversaryToday', value: true })
      .timeRelative,
    true,
  );
  const windowed = dependencies({
    fact: 'aggregate',
    params: { event: 'order', fn: 'sum', property: 'amount', within: 'P30D' },
    operator: 'greaterThan',
    value: 100,
  });
  assert.equal(windowed.timeRelative, true);
  assert.deepEqual(windowed.aggregates, [{ event: 'order', fn: 'sum', property: 'amount', within: 'P30D' }]);
  const twice = dependencies({
    any: [
      { fact: 'aggregate', params: { event: 'order', fn: 'count' }, operator: 'greaterThan', value: 1 },
      { fact: 'aggregate', params: { fn: 'count', event: 'order' }, operator: 'lessThan', value: 9 },
    ],
  });
  assert.equal(twice.aggregates.length, 1, 'one aggregate, however its params are ordered');
  assert.equal(twice.timeRelative, false);
});
