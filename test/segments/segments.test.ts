import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Profile } from '../../model/profile.ts';
import { aggregateId, backfill } from '../../rules/aggregates.ts';
import { backfillEventTimes } from '../../rules/event-times.ts';
import { referenceEvaluator } from '../../rules/index.ts';
import type { AggregateSpec } from '../../rules/types.ts';
import { profileContext } from '../../segments/context.ts';
import { compileSegment, evaluateMembership } from '../../segments/membership.ts';
import { type SegmentDefinition, validateSegment } from '../../segments/segment.ts';
import { Workspace } from '../../workspace/workspace.ts';
import { makeProfile } from '../../dev/profiles.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-06-01T12:00:00Z');
const spendParams = { event: 'order_paid', fn: 'sum', property: 'amount', within: 'P90D' };
const spend: AggregateSpec = { event: 'order_paid', fn: 'sum', property: 'amount', within: 'P90D' };

const segments: SegmentDefinition[] = [
  {
    id: 'high_value',
    version: 1,
    name: 'High-value buyers',
    tag: 'high_value',
    condition: {
      all: [{ fact: 'aggregate', params: spendParams, operator: 'greaterThanInclusive', value: 1000 }],
    },
  },
  {
    id: 'recent_buyer',
    version: 1,
    name: 'Ordered in the last 30 days',
    condition: {
      all: [{ fact: 'lastEventAt', params: { event: 'order_paid' }, operator: 'withinLast', value: 'P30D' }],
    },
  },
  {
    id: 'shanghai_vip',
    version: 1,
    name: 'VIPs in Shanghai',
    condition: {
      all: [
        { fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Shanghai' },
        { fact: 'profile', operator: 'hasTag', value: 'vip' },
      ],
    },
  },
];

/** A profile whose materialised state is built from its orders, as the engine will keep it. */
function buyer(
  key: string,
  orders: { at: number; amount: number }[],
  overrides: Partial<Profile> = {},
): Profile {
  const events = orders.map((o) => ({
    name: 'order_paid',
    timestamp: o.at,
    properties: { amount: o.amount },
  }));
  return makeProfile(key, {
    aggregates: { [aggregateId(spend)]: backfill(spend, events) },
    eventTimes: backfillEventTimes(events, new Set(['order_paid'])),
    ...overrides,
  });
}

describe('segments', () => {
  it('accepts a valid segment file', () => {
    for (const s of segments) assert.deepEqual(validateSegment(s).faults, []);
  });

  it('reports every fault of a segment file with its JSON pointer', () => {
    const { faults, segment } = validateSegment({
      id: 'Bad Id',
      version: 0,
      colour: 'red',
      condition: {
        any: [
          { fact: 'event', path: '$.name', operator: 'equal', value: 'x' },
          { fact: 'lastEventAt', params: { event: 'order_paid' }, operator: 'withinLast', value: '30 days' },
          { fact: 'weather', operator: 'equal', value: 'sunny' },
        ],
      },
    });
    assert.equal(segment, undefined);
    const pointers = faults.map((f) => f.pointer).sort();
    for (const p of [
      '/id',
      '/version',
      '/colour',
      '/name',
      '/condition/any/0/fact',
      '/condition/any/1/value',
      '/condition/any/2/fact',
    ]) {
      assert.ok(pointers.includes(p), `expected a fault at ${p}: ${JSON.stringify(faults)}`);
    }
  });

  it('computes membership from traits, tags, aggregates and event times, and moves with time', () => {
    const compiled = segments.map(compileSegment);
    const big = buyer(
      'u:big',
      [
        { at: T0 - 40 * DAY, amount: 800 },
        { at: T0 - 10 * DAY, amount: 300 },
      ],
      { traits: { city: 'Shanghai' }, tags: ['vip'] },
    );
    const small = buyer('u:small', [{ at: T0 - 5 * DAY, amount: 50 }], {
      traits: { city: 'Beijing' },
      tags: ['vip'],
    });
    const none = buyer('u:none', [], { traits: {}, tags: [] });
    const at = (p: Profile, now: number) =>
      evaluateMembership([], compiled, profileContext(p, now, { timezone: 'UTC' }));

    assert.deepEqual(at(big, T0).segments, ['high_value', 'recent_buyer', 'shanghai_vip']);
    assert.deepEqual(at(small, T0).segments, ['recent_buyer']);
    assert.deepEqual(at(none, T0).segments, []);

    // 21 days on, the last order is 31 days old; 60 days on, the 800 order has left the 90-day window.
    const later = evaluateMembership(
      at(big, T0).segments,
      compiled,
      profileContext(big, T0 + 21 * DAY, { timezone: 'UTC' }),
    );
    assert.deepEqual(later, {
      segments: ['high_value', 'shanghai_vip'],
      entered: [],
      exited: ['recent_buyer'],
    });
    assert.deepEqual(at(big, T0 + 60 * DAY).segments, ['shanghai_vip']);
  });

  it('agrees with json-rules-engine on every segment and profile', async () => {
    const profiles = [
      buyer('u:a', [{ at: T0 - DAY, amount: 2000 }], { traits: { city: 'Shanghai' }, tags: ['vip'] }),
      buyer('u:b', [{ at: T0 - 89 * DAY, amount: 999 }], { traits: { city: null }, tags: [] }),
      buyer('u:c', [], { traits: {}, tags: ['vip'] }),
    ];
    for (const p of profiles) {
      for (const now of [T0, T0 + 2 * DAY, T0 + 40 * DAY]) {
        const ctx = profileContext(p, now, { timezone: 'Asia/Shanghai' });
        for (const s of segments) {
          assert.equal(
            compileSegment(s).predicate(ctx),
            await referenceEvaluator(s.condition)(ctx),
            `${s.id} ${p.key} ${now}`,
          );
        }
      }
    }
  });

  it("re-checks a segment with a per aggregate when any group's oldest bucket leaves the window", () => {
    const params = { event: 'product_viewed', fn: 'count', within: 'PT24H', per: 'productId' };
    const browsed: SegmentDefinition = {
      id: 'browsed',
      version: 1,
      name: 'Viewed one product 3 times in 24 hours',
      condition: { all: [{ fact: 'aggregate', params, operator: 'greaterThanInclusive', value: 3 }] },
    };
    assert.deepEqual(validateSegment(browsed).faults, []);
    const spec = params as AggregateSpec;
    const HOUR = 3_600_000;
    const views = [
      ...[1, 2, 3].map((h) => ({ at: T0 - h * HOUR, productId: 'p1' })),
      { at: T0 - 20 * HOUR, productId: 'p2' },
    ].map((v) => ({ name: 'product_viewed', timestamp: v.at, properties: { productId: v.productId } }));
    const p = makeProfile('u:browser', { aggregates: { [aggregateId(spec)]: backfill(spec, views) } });
    const workspace = new Workspace({ segments: [browsed] });
    const ctx = (now: number) => profileContext(p, now, { timezone: 'UTC' });
    assert.equal(compileSegment(browsed).predicate(ctx(T0)), true);
    // p2's bucket (the oldest of any group) leaves first: 20 hours ago, + 1 hour, + 24 hours.
    assert.equal(workspace.nextCheckAt(p, T0), T0 - 20 * HOUR + HOUR + 24 * HOUR);
    // Then p1's oldest bucket, which takes the segment's answer with it.
    assert.equal(workspace.nextCheckAt(p, T0 + 6 * HOUR), T0 - 3 * HOUR + HOUR + 24 * HOUR);
    assert.equal(compileSegment(browsed).predicate(ctx(T0 + 22 * HOUR - 1)), true);
    assert.equal(compileSegment(browsed).predicate(ctx(T0 + 22 * HOUR)), false);
  });
});
