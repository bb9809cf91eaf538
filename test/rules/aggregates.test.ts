import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DAY,
  HOUR,
  MAX_GROUPS,
  aggregateEventOf,
  aggregateId,
  backfill,
  emptyAggregate,
  fullEvaluate,
  mergeAggregates,
  readAggregate,
  recordEvent,
  windowOf,
  windowStart,
  type AggregateEvent,
  type EventFilter,
} from '../../rules/aggregates.ts';
import type { AggregateFn, AggregateSpec } from '../../rules/types.ts';
import type { JsonObject } from '../../model/json.ts';
import { prng as rng } from '../../dev/random.ts';
import type { AggregateState } from '../../model/aggregates.ts';

const T0 = Date.UTC(2024, 4, 31, 15, 30); // 2024-05-31T15:30Z
const ev = (timestamp: number, properties: JsonObject = {}, name = 'order'): AggregateEvent => ({
  name,
  timestamp,
  properties,
});
const run = (spec: AggregateSpec, events: AggregateEvent[], filter?: EventFilter): AggregateState =>
  events.reduce((s, e) => recordEvent(s, spec, e, filter), emptyAggregate());

function shuffle<T>(xs: T[], rand: () => number): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('aggregateId', () => {
  it('is short, stable and ignores key order', () => {
    const a = aggregateId({
      event: 'order',
      fn: 'sum',
      property: 'amount',
      within: 'P30D',
      where: { fact: 'event', path: '$.properties.c', operator: 'equal', value: 'x' },
    });
    const b = aggregateId({
      where: { value: 'x', operator: 'equal', path: '$.properties.c', fact: 'event' },
      within: 'P30D',
      property: 'amount',
      fn: 'sum',
      event: 'order',
    });
    assert.equal(a, b);
    assert.match(a, /^[A-Za-z0-9_-]{12}$/);
    assert.notEqual(a, aggregateId({ event: 'order', fn: 'sum', property: 'amount', within: 'P7D' }));
    assert.equal(
      aggregateId({ event: 'order', fn: 'count' }),
      aggregateId({ event: 'order', fn: 'count', within: undefined }),
    );
  });
});

describe('windowStart', () => {
  it('aligns daily windows to the UTC day containing now - within', () => {
    assert.equal(windowStart({ event: 'e', fn: 'count', within: 'P30D' }, T0), Date.UTC(2024, 4, 1));
    assert.equal(windowStart({ event: 'e', fn: 'count', within: 'P1M' }, T0), Date.UTC(2024, 4, 1));
    assert.equal(windowStart({ event: 'e', fn: 'count', within: 'P3D' }, T0), Date.UTC(2024, 4, 28));
  });
  it('aligns windows up to 48 hours to the UTC hour', () => {
    assert.equal(windowStart({ event: 'e', fn: 'count', within: 'PT24H' }, T0), Date.UTC(2024, 4, 30, 15));
    assert.equal(windowStart({ event: 'e', fn: 'count', within: 'P2D' }, T0), Date.UTC(2024, 4, 29, 15));
    assert.equal(windowStart({ event: 'e', fn: 'count', within: 'PT49H' }, T0), Date.UTC(2024, 4, 29));
  });
  it('is -Infinity for all time, and rejects bad durations', () => {
    assert.equal(windowStart({ event: 'e', fn: 'count' }, T0), -Infinity);
    assert.throws(() => windowStart({ event: 'e', fn: 'count', within: '30 days' }, T0), /ISO 8601/);
    assert.throws(() => windowStart({ event: 'e', fn: 'count', within: 'PT0S' }, T0), /ISO 8601/);
  });
});

describe('recordEvent / readAggregate', () => {
  const amounts = [
    ev(T0 - 40 * DAY, { amount: 100 }),
    ev(T0 - 2 * DAY, { amount: 5 }),
    ev(T0, { amount: -3 }),
  ];
  const cases: [AggregateFn, number | null, number | null, number | null][] = [
    // fn, all time, P30D, empty
    ['count', 3, 2, 0],
    ['sum', 102, 2, 0],
    ['avg', 34, 1, null],
    ['min', -3, -3, null],
    ['max', 100, 5, null],
  ];
  for (const [fn, all, within, empty] of cases) {
    it(`${fn} with and without within, and empty`, () => {
      const spec: AggregateSpec = { event: 'order', fn, property: 'amount' };
      const windowed: AggregateSpec = { ...spec, within: 'P30D' };
      assert.equal(readAggregate(run(spec, amounts), spec, T0), all);
      assert.equal(readAggregate(run(windowed, amounts), windowed, T0), within);
      assert.equal(readAggregate(emptyAggregate(), spec, T0), empty);
      assert.equal(readAggregate(emptyAggregate(), windowed, T0), empty);
    });
  }

  it('counts an event exactly at the aligned daily start, not one a millisecond before', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'count', within: 'P30D' };
    const start = windowStart(spec, T0);
    const s = run(spec, [ev(start), ev(start - 1), ev(T0)]);
    assert.equal(readAggregate(s, spec, T0), 2);
    assert.equal(fullEvaluate(spec, [ev(start), ev(start - 1), ev(T0)], T0), 2);
    // the window moves at the day boundary, not at now - 30 days exactly
    assert.equal(readAggregate(s, spec, start + 30 * DAY + DAY - 1), 2);
    assert.equal(readAggregate(s, spec, start + 30 * DAY + DAY), 1);
  });

  it('counts an event exactly at the aligned hourly start, not one a millisecond before', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'max', property: 'amount', within: 'PT24H' };
    const start = windowStart(spec, T0);
    assert.equal(start, T0 - 24 * HOUR - 30 * 60_000);
    const events = [ev(start, { amount: 7 }), ev(start - 1, { amount: 9 }), ev(T0, { amount: 1 })];
    assert.equal(readAggregate(run(spec, events), spec, T0), 7);
    assert.equal(fullEvaluate(spec, events, T0), 7);
    assert.equal(readAggregate(run(spec, events), spec, start + 25 * HOUR), 1);
  });

  it('skips events whose property is missing or not a finite number, and other event names', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'avg', property: 'amount' };
    const events = [
      ev(T0, { amount: 10 }),
      ev(T0, {}),
      ev(T0, { amount: '20' }),
      ev(T0, { amount: null }),
      ev(T0, { amount: Infinity }),
      ev(T0, { amount: 1000 }, 'refund'),
    ];
    assert.equal(readAggregate(run(spec, events), spec, T0), 10);
    const count: AggregateSpec = { event: 'order', fn: 'count', property: 'amount' };
    assert.equal(readAggregate(run(count, events), count, T0), 5, 'count ignores the property');
    assert.throws(() => recordEvent(emptyAggregate(), { event: 'order', fn: 'sum' }, ev(T0)), /property/);
  });

  it('applies the where filter', () => {
    const spec: AggregateSpec = { event: 'view', fn: 'count', within: 'P7D' };
    const filter: EventFilter = (e) => e.properties.category === 'shoes' && e.timestamp.startsWith('2024');
    const events = [
      ev(T0, { category: 'shoes' }, 'view'),
      ev(T0, { category: 'hats' }, 'view'),
      ev(T0 - DAY, { category: 'shoes' }, 'view'),
    ];
    assert.equal(readAggregate(run(spec, events, filter), spec, T0), 2);
    assert.equal(fullEvaluate(spec, events, T0, filter), 2);
  });

  it('does not change its input, and returns it when the event does not count', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'count', within: 'P30D' };
    const s1 = run(spec, [ev(T0)]);
    const copy = structuredClone(s1);
    const s2 = recordEvent(s1, spec, ev(T0));
    assert.deepEqual(s1, copy);
    assert.equal(readAggregate(s2, spec, T0), 2);
    assert.equal(recordEvent(s1, spec, ev(T0, {}, 'other')), s1);
  });

  it('drops late events older than what the state keeps', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'count', within: 'P30D' };
    const s = run(spec, [ev(T0)]);
    assert.equal(recordEvent(s, spec, ev(T0 - 60 * DAY)), s);
    assert.equal(readAggregate(recordEvent(s, spec, ev(T0 - 29 * DAY)), spec, T0), 2);
  });

  it('never counts a bucket that starts after now', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'count', within: 'P30D' };
    const s = run(spec, [ev(T0), ev(T0 + 2 * DAY)]);
    assert.equal(readAggregate(s, spec, T0), 1);
  });

  it('survives a JSON round trip', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'avg', property: 'amount', within: 'P7D' };
    const s = run(spec, [ev(T0, { amount: 3 }), ev(T0 - DAY, { amount: 4 })]);
    const back = JSON.parse(JSON.stringify(s)) as AggregateState;
    assert.deepEqual(back, s);
    assert.equal(readAggregate(back, spec, T0), 3.5);
  });
});

describe('bounded state', () => {
  it('keeps at most ceil(window / bucket) + 1 buckets', () => {
    const rand = rng(1);
    const events = Array.from({ length: 10_000 }, () => ev(T0 - Math.floor(rand() * 400 * DAY)));
    const spec: AggregateSpec = { event: 'order', fn: 'count', within: 'P30D' };
    let s = emptyAggregate();
    let most = 0;
    for (const e of events) {
      s = recordEvent(s, spec, e);
      most = Math.max(most, s.b.length);
    }
    assert.ok(most <= 31, `${most} buckets`);
    assert.equal(readAggregate(s, spec, T0), fullEvaluate(spec, events, T0));

    const hourly: AggregateSpec = { event: 'order', fn: 'count', within: 'PT90M' };
    const h = backfill(hourly, events);
    assert.ok(h.b.length <= 3, `${h.b.length} buckets`);
  });

  it('measures size and speed', () => {
    const spec: AggregateSpec = { event: 'order', fn: 'count', within: 'P30D' };
    const year = Array.from({ length: 365 }, (_, d) => ev(T0 - d * DAY));
    const s = backfill(spec, year);
    console.log(`P30D count after a year of daily events: ${JSON.stringify(s).length} bytes`);
    const sum: AggregateSpec = { event: 'order', fn: 'avg', property: 'amount', within: 'P30D' };
    const s2 = backfill(
      sum,
      year.map((e, i) => ({ ...e, properties: { amount: 10 + (i % 100) + 0.99 } })),
    );
    console.log(`P30D avg after a year of daily events: ${JSON.stringify(s2).length} bytes`);

    const n = 200_000;
    const events = Array.from({ length: n }, (_, i) => ev(T0 + i * 60_000, { amount: i % 50 }));
    const started = process.hrtime.bigint();
    backfill(sum, events);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`recordEvent: ${Math.round(n / (ms / 1000)).toLocaleString('en')} events/s (P30D avg)`);
  });
});

describe('order independence and differential test', () => {
  it('records the same state in any order', () => {
    const rand = rng(7);
    const events = Array.from({ length: 2_000 }, () =>
      ev(T0 - Math.floor(rand() * 60 * DAY), { amount: Math.floor(rand() * 400) - 100 }),
    );
    for (const fn of ['count', 'sum', 'avg', 'min', 'max'] as const) {
      for (const within of [undefined, 'P30D', 'PT36H']) {
        const spec: AggregateSpec = { event: 'order', fn, property: 'amount', within };
        const expected = backfill(spec, events);
        for (let k = 0; k < 3; k++) assert.deepEqual(backfill(spec, shuffle(events, rand)), expected);
      }
    }
  });

  it('decimal sums agree across orders up to rounding', () => {
    const rand = rng(9);
    const events = Array.from({ length: 500 }, () => ev(T0 - Math.floor(rand() * DAY), { amount: 19.99 }));
    const spec: AggregateSpec = { event: 'order', fn: 'sum', property: 'amount', within: 'P7D' };
    const a = readAggregate(backfill(spec, events), spec, T0) ?? NaN;
    const b = readAggregate(backfill(spec, shuffle(events, rand)), spec, T0) ?? NaN;
    assert.ok(Math.abs(a - 500 * 19.99) < 1e-9 && Math.abs(a - b) < 1e-9, `${a} ${b}`);
  });

  it('readAggregate after recording equals fullEvaluate, for now at or after the newest event', () => {
    const rand = rng(42);
    const fns: AggregateFn[] = ['count', 'sum', 'avg', 'min', 'max'];
    const withins = [undefined, 'PT1H', 'PT90M', 'PT24H', 'P2D', 'PT49H', 'P1D', 'P7D', 'P30D', 'P1M', 'P1Y'];
    const names = ['order', 'view', 'refund'];
    const filter: EventFilter = (e) => e.properties.channel !== 'web';
    let compared = 0;
    for (let round = 0; round < 300; round++) {
      const spec: AggregateSpec = {
        event: names[Math.floor(rand() * 2)],
        fn: fns[Math.floor(rand() * fns.length)],
        property: 'amount',
        within: withins[Math.floor(rand() * withins.length)],
      };
      const useFilter = rand() < 0.3;
      const spread = [2 * HOUR, 3 * DAY, 60 * DAY, 500 * DAY][Math.floor(rand() * 4)];
      const events = Array.from({ length: 1 + Math.floor(rand() * 300) }, () => {
        const properties: JsonObject = { channel: rand() < 0.5 ? 'web' : 'app' };
        const r = rand();
        // quarters are exact in binary, so sums do not depend on order
        if (r < 0.85) properties.amount = Math.floor(rand() * 4000 - 1000) / 4;
        else if (r < 0.92) properties.amount = String(Math.floor(rand() * 100));
        let timestamp = T0 + Math.floor(rand() * spread);
        if (rand() < 0.2) timestamp -= timestamp % (rand() < 0.5 ? HOUR : DAY); // on a bucket boundary
        return ev(timestamp, properties, names[Math.floor(rand() * names.length)]);
      });
      const f = useFilter ? filter : undefined;
      const state = backfill(spec, shuffle(events, rand), f);
      const newest = Math.max(...events.map((e) => e.timestamp));
      const nows = [
        newest,
        newest + 1,
        newest + Math.floor(rand() * 2 * DAY),
        newest + Math.floor(rand() * 40 * DAY),
      ];
      const bucket = windowOf(spec)?.bucket ?? DAY;
      nows.push(Math.ceil(newest / bucket) * bucket, Math.ceil(newest / bucket) * bucket - 1);
      for (const now of nows) {
        if (now < newest) continue;
        assert.equal(
          readAggregate(state, spec, now),
          fullEvaluate(spec, events, now, f),
          `${JSON.stringify(spec)} filter=${useFilter} now=${now - newest} after newest`,
        );
        compared++;
      }
      const json = JSON.parse(JSON.stringify(state)) as AggregateState;
      assert.equal(readAggregate(json, spec, newest), readAggregate(state, spec, newest));
    }
    assert.ok(compared > 1000);
  });
});

describe('aggregateEventOf', () => {
  it('maps a stored event', () => {
    const e = aggregateEventOf({
      messageId: 'm1',
      type: 'track',
      event: 'order',
      properties: { amount: 3 },
      timestamp: T0,
      receivedAt: T0,
    });
    assert.deepEqual(e, {
      name: 'order',
      timestamp: T0,
      properties: { amount: 3 },
      type: 'track',
      traits: {},
    });
  });
});

describe('mergeAggregates', () => {
  it('equals recording both event sets into one state, for every function and window', () => {
    const day = 86_400_000;
    const base = Date.parse('2026-03-01T00:00:00Z');
    const events = Array.from({ length: 60 }, (_, i) => ({
      name: 'order_paid',
      timestamp: base + ((i * 7919) % 90) * day + (i % 5) * 3_600_000,
      properties: { amount: (i % 13) * 0.25 + 1 },
    }));
    for (const fn of ['count', 'sum', 'avg', 'min', 'max'] as const) {
      for (const within of [undefined, 'P30D', 'PT36H']) {
        const spec = {
          event: 'order_paid',
          fn,
          ...(fn === 'count' ? {} : { property: 'amount' }),
          ...(within ? { within } : {}),
        };
        const left = events.filter((_, i) => i % 3 === 0);
        const right = events.filter((_, i) => i % 3 !== 0);
        const merged = mergeAggregates(spec, backfill(spec, left), backfill(spec, right));
        assert.deepEqual(merged, backfill(spec, events), `${fn} ${within}`);
      }
    }
  });
});

describe('per (grouped aggregates)', () => {
  const views: AggregateSpec = { event: 'view', fn: 'count', within: 'PT24H', per: 'productId' };
  const view = (timestamp: number, productId: JsonObject[string], more: JsonObject = {}): AggregateEvent =>
    ev(timestamp, { productId, ...more }, 'view');
  const both = (spec: AggregateSpec, events: AggregateEvent[], now: number): (number | null)[] => [
    readAggregate(run(spec, events), spec, now),
    fullEvaluate(spec, events, now),
  ];

  it('has its own id, and specs without per keep theirs', () => {
    assert.equal(
      aggregateId({ event: 'order', fn: 'sum', property: 'amount', within: 'P30D' }),
      'xNtkbuJq71-7',
    );
    const plain: AggregateSpec = { event: 'product_viewed', fn: 'count', within: 'PT24H' };
    assert.equal(aggregateId(plain), 'teDJMovbE1eL');
    assert.notEqual(aggregateId({ ...plain, per: 'productId' }), aggregateId(plain));
    assert.notEqual(aggregateId(views), aggregateId({ ...views, per: 'sku' }));
  });

  it('is the largest group count, groups told apart by JSON text, values without a group not counted', () => {
    const events = [
      view(T0 - HOUR, 'p1'),
      view(T0 - 2 * HOUR, 'p1'),
      view(T0, 'p2'),
      view(T0, 'p2'),
      view(T0 - 3 * HOUR, 7),
      view(T0 - 3 * HOUR, 7),
      view(T0, '7'),
      view(T0, null),
      view(T0, true),
      view(T0, ['p1']),
      view(T0, { id: 'p1' }),
      ev(T0, {}, 'view'),
      ev(T0, { productId: 'p1' }, 'order'),
    ];
    assert.deepEqual(both(views, events, T0), [2, 2]);
    assert.deepEqual(both(views, [...events, view(T0, 7)], T0), [3, 3], '7 and 7 are one group');
    assert.deepEqual(both(views, [...events, view(T0, 'p1')], T0), [3, 3]);
    assert.deepEqual(
      Object.keys(run(views, events).g ?? {}).sort(),
      ['"7"', '"p1"', '"p2"', '7'],
      'keys are JSON text',
    );
    assert.deepEqual(run(views, events).b, []);
  });

  it('sums per group: the largest group sum, possibly negative; 0 without groups', () => {
    const spend: AggregateSpec = {
      event: 'order',
      fn: 'sum',
      property: 'amount',
      within: 'P7D',
      per: 'shop',
    };
    const events = [
      ev(T0, { shop: 'a', amount: 5 }),
      ev(T0 - DAY, { shop: 'a', amount: 7 }),
      ev(T0, { shop: 'b', amount: 10 }),
      ev(T0, { shop: 'c', amount: '100' }), // not a number: does not count
      ev(T0, { amount: 100 }), // no group: does not count
    ];
    assert.deepEqual(both(spend, events, T0), [12, 12]);
    assert.deepEqual(
      both(spend, [ev(T0, { shop: 'a', amount: -3 }), ev(T0, { shop: 'b', amount: -1 })], T0),
      [-1, -1],
    );
    assert.equal(readAggregate(emptyAggregate(), spend, T0), 0);
    assert.equal(fullEvaluate(spend, [], T0), 0);
    assert.deepEqual(run(spend, [ev(T0, { amount: 1 })]), emptyAggregate());
  });

  it('expires each group with its own buckets, and prunes groups the present no longer needs', () => {
    const start = windowStart(views, T0);
    const events = [
      view(start - 1, 'old'), // just before the window: never counted
      view(start - 1, 'old'),
      view(start - 1, 'old'),
      view(start, 'p1'),
      view(start + 10 * HOUR, 'p1'),
      view(T0 - HOUR, 'p2'),
    ];
    assert.deepEqual(both(views, events, T0), [2, 2]);
    // p1's first bucket leaves the window an hour later, p1's second ten hours after that.
    assert.deepEqual(both(views, events, T0 + HOUR), [1, 1]);
    assert.deepEqual(both(views, events, T0 + 11 * HOUR), [1, 1]);
    assert.deepEqual(both(views, events, T0 + 30 * HOUR), [0, 0]);
    assert.deepEqual(Object.keys(run(views, events).g ?? {}).sort(), ['"old"', '"p1"', '"p2"']);
    // A day later every earlier group is out of reach: only the new one is kept.
    const later = run(views, [...events, view(T0 + 2 * DAY, 'p3')]);
    assert.deepEqual(later, { b: [], g: { '"p3"': [[Math.floor((T0 + 2 * DAY) / HOUR), 1]] } });
    // A late event older than anything kept is dropped.
    assert.equal(recordEvent(later, views, view(T0, 'p3')), later);
  });

  it('records the same state in any order, and merging equals recording both sets', () => {
    const rand = rng(11);
    const products = ['p1', 'p2', 'p3', 'p4', 5, '5'];
    const events = Array.from({ length: 1_500 }, () =>
      view(T0 - Math.floor(rand() * 3 * DAY), products[Math.floor(rand() * products.length)], {
        amount: Math.floor(rand() * 400 - 100) / 4,
      }),
    );
    for (const spec of [
      views,
      { ...views, within: 'PT36H' },
      { ...views, within: 'P2D', fn: 'sum', property: 'amount' } as AggregateSpec,
      { event: 'view', fn: 'sum', property: 'amount', within: 'P7D', per: 'productId' } as AggregateSpec,
    ]) {
      const expected = backfill(spec, events);
      for (let k = 0; k < 3; k++) assert.deepEqual(backfill(spec, shuffle(events, rand)), expected);
      const left = events.filter(() => rand() < 0.4);
      const right = events.filter((e) => !left.includes(e));
      assert.deepEqual(mergeAggregates(spec, backfill(spec, left), backfill(spec, right)), expected);
      assert.deepEqual(mergeAggregates(spec, expected, emptyAggregate()), expected);
      assert.deepEqual(mergeAggregates(spec, emptyAggregate(), emptyAggregate()), emptyAggregate());
      const json = JSON.parse(JSON.stringify(expected)) as AggregateState;
      assert.equal(readAggregate(json, spec, T0), fullEvaluate(spec, events, T0));
    }
  });

  it('readAggregate after recording equals fullEvaluate, for now at or after the newest event', () => {
    const rand = rng(43);
    const withins = ['PT1H', 'PT90M', 'PT24H', 'P2D', 'PT49H', 'P7D', 'P30D'];
    const filter: EventFilter = (e) => e.properties.channel !== 'web';
    let compared = 0;
    for (let round = 0; round < 200; round++) {
      const fn = rand() < 0.5 ? 'count' : 'sum';
      const spec: AggregateSpec = {
        event: 'view',
        fn,
        property: 'amount',
        within: withins[Math.floor(rand() * withins.length)],
        per: 'productId',
      };
      const useFilter = rand() < 0.3;
      const spread = [2 * HOUR, 3 * DAY, 60 * DAY][Math.floor(rand() * 3)];
      const groups = 1 + Math.floor(rand() * 12);
      const events = Array.from({ length: 1 + Math.floor(rand() * 200) }, () => {
        const properties: JsonObject = { channel: rand() < 0.5 ? 'web' : 'app' };
        const r = rand();
        if (r < 0.9) properties.productId = rand() < 0.8 ? `p${Math.floor(rand() * groups)}` : 1;
        else if (r < 0.95) properties.productId = null;
        if (rand() < 0.9) properties.amount = Math.floor(rand() * 4000 - 1000) / 4;
        let timestamp = T0 + Math.floor(rand() * spread);
        if (rand() < 0.2) timestamp -= timestamp % (rand() < 0.5 ? HOUR : DAY);
        return ev(timestamp, properties, rand() < 0.9 ? 'view' : 'order');
      });
      const f = useFilter ? filter : undefined;
      const state = backfill(spec, shuffle(events, rand), f);
      const newest = Math.max(...events.map((e) => e.timestamp));
      const bucket = windowOf(spec)?.bucket ?? DAY;
      const nows = [
        newest,
        newest + Math.floor(rand() * 2 * DAY),
        newest + Math.floor(rand() * 40 * DAY),
        Math.ceil(newest / bucket) * bucket,
        Math.ceil(newest / bucket) * bucket - 1,
      ];
      for (const now of nows) {
        if (now < newest) continue;
        assert.equal(
          readAggregate(state, spec, now),
          fullEvaluate(spec, events, now, f),
          `${JSON.stringify(spec)} filter=${useFilter} now=${now - newest} after newest`,
        );
        compared++;
      }
    }
    assert.ok(compared > 800);
  });

  it(`keeps at most ${MAX_GROUPS} groups, dropping those whose newest bucket is oldest`, () => {
    const daily: AggregateSpec = { event: 'view', fn: 'count', within: 'P1Y', per: 'productId' };
    // Group i is viewed i days before T0 (each in its own bucket), and the oldest one three times.
    const events = Array.from({ length: MAX_GROUPS }, (_, i) => view(T0 - i * DAY, `p${i}`));
    const oldest = `p${MAX_GROUPS - 1}`;
    events.push(view(T0 - (MAX_GROUPS - 1) * DAY, oldest), view(T0 - (MAX_GROUPS - 1) * DAY, oldest));
    const full = backfill(daily, events);
    assert.equal(Object.keys(full.g ?? {}).length, MAX_GROUPS);
    assert.equal(readAggregate(full, daily, T0), 3);

    const more = [...events, view(T0, 'new')];
    const capped = backfill(daily, more);
    assert.equal(Object.keys(capped.g ?? {}).length, MAX_GROUPS);
    assert.equal(capped.g?.[JSON.stringify(oldest)], undefined, 'the least recent group is dropped');
    assert.ok(capped.g?.['"new"']);
    // The dropped group was the largest: the read undercounts (the reference has no cap).
    assert.equal(readAggregate(capped, daily, T0), 1);
    assert.equal(fullEvaluate(daily, more, T0), 3);
    // Merging caps too; an event of a group older than every kept one is dropped.
    assert.deepEqual(mergeAggregates(daily, full, backfill(daily, [view(T0, 'new')])), capped);
    assert.deepEqual(recordEvent(capped, daily, view(T0 - 300 * DAY, 'older')), capped);
  });

  it('needs within and takes count or sum only', () => {
    const e = view(T0, 'p1', { amount: 1 });
    assert.throws(
      () => recordEvent(emptyAggregate(), { event: 'view', fn: 'count', per: 'productId' }, e),
      /within/,
    );
    const avg: AggregateSpec = { ...views, fn: 'avg', property: 'amount' };
    assert.throws(() => recordEvent(emptyAggregate(), avg, e), /count or sum/);
    assert.throws(() => readAggregate(emptyAggregate(), avg, T0), /count or sum/);
    assert.throws(() => fullEvaluate(avg, [e], T0), /count or sum/);
  });
});
