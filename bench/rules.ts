/**
 * bench/rules: the cost of keeping segments current as events are applied, in embedded mode (memory
 * store, batches applied in process, as the embedded worker does). Usage:
 *   npm run bench:rules -- [--runs 5] [--events 50000]
 *
 * 1. events/s applied on the generated stream with 50 published segments (a realistic mix of
 *    spend, view, cart and coupon aggregates with windows and where filters, traits, tags, event times)
 *    and 20 tag rules reacting to events;
 * 2. the cost per event when 1,000 segments are published of which only 10 read the incoming event,
 *    against the cost with only those 10 (the dependency index should make them close).
 */
import { parseArgs } from 'node:util';
import { parseBatch } from '../engine/ingest/parse.ts';
import { MemoryStore } from '../engine/adapters/stores/memory.ts';
import type { InboundMessage } from '../model/events.ts';
import { applyBatch } from '../engine/ingest/apply-batch.ts';
import { generateStream } from '../fixtures/generate.ts';
import type { SegmentDefinition } from '../segments/segment.ts';
import type { TagRuleDefinition } from '../segments/tag-rule.ts';
import { Workspace } from '../workspace/workspace.ts';
import { fmt, log, median } from './stats.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, events: { type: 'string', default: '50000' } },
});
const runs = Number(values.runs);
const DAY = 86_400_000;

const agg = (event: string, fn: string, extra: Record<string, unknown>, operator: string, value: number) => ({
  all: [{ fact: 'aggregate', params: { event, fn, ...extra }, operator, value }],
});
const categories = ['beauty', 'apparel', 'snacks', 'electronics', 'home', 'mother_baby'];
const cities = ['Shanghai', 'Beijing', 'Shenzhen', 'Hangzhou', 'Chengdu'];

/** 50 segments of the kinds a shop publishes. */
function fiftySegments(): SegmentDefinition[] {
  const conditions: unknown[] = [];
  for (const [i, within] of ['P7D', 'P30D', 'P90D', 'P365D'].entries()) {
    conditions.push(
      agg('order_paid', 'sum', { property: 'amount', within }, 'greaterThanInclusive', 200 * (i + 1)),
    );
    conditions.push(agg('order_paid', 'count', { within }, 'greaterThanInclusive', i + 1));
  }
  for (const category of categories) {
    const where = {
      all: [{ fact: 'event', path: '$.properties.category', operator: 'equal', value: category }],
    };
    conditions.push(agg('product_viewed', 'count', { within: 'PT24H', where }, 'greaterThanInclusive', 3));
    conditions.push(agg('cart_add', 'count', { within: 'P7D', where }, 'greaterThanInclusive', 1));
    conditions.push(
      agg(
        'order_paid',
        'max',
        { property: 'amount', within: 'P90D' },
        'greaterThan',
        100 + categories.indexOf(category) * 50,
      ),
    );
  }
  for (const city of cities) {
    conditions.push({ all: [{ fact: 'profile', path: '$.traits.city', operator: 'equal', value: city }] });
    conditions.push({
      all: [
        { fact: 'profile', path: '$.traits.city', operator: 'equal', value: city },
        { fact: 'lastEventAt', params: { event: 'order_paid' }, operator: 'withinLast', value: 'P30D' },
      ],
    });
  }
  conditions.push(agg('coupon_used', 'count', { within: 'P90D' }, 'greaterThanInclusive', 3));
  conditions.push({
    all: [{ fact: 'lastEventAt', params: { event: 'wechat_follow' }, operator: 'notEqual', value: null }],
  });
  conditions.push({
    all: [{ fact: 'profile', path: '$.traits.gender', operator: 'equal', value: 'female' }],
  });
  conditions.push({ all: [{ fact: 'profile', operator: 'hasTag', value: 'high_value' }] });
  conditions.push({
    any: [{ fact: 'profile', path: '$.traits.birthday', operator: 'anniversaryToday', value: true }],
  });
  conditions.push({
    all: [{ fact: 'firstEventAt', params: { event: 'order_paid' }, operator: 'olderThan', value: 'P60D' }],
  });
  while (conditions.length < 50)
    conditions.push(agg('page', 'count', { within: 'P7D' }, 'greaterThan', conditions.length));
  return conditions.slice(0, 50).map((condition, i) => ({
    id: `s${i}`,
    version: 1,
    name: `segment ${i}`,
    ...(i === 0 ? { tag: 'high_value' } : {}),
    condition: condition as SegmentDefinition['condition'],
  }));
}

/** 20 sticky tag rules reacting to events, as a shop writes them. */
function twentyTagRules(): TagRuleDefinition[] {
  const on = (name: string) => ({ fact: 'event', path: '$.name', operator: 'equal', value: name });
  const rules: { conditions: unknown; add: boolean; tag: string }[] = [];
  for (const category of categories) {
    rules.push({
      conditions: {
        all: [
          on('order_paid'),
          { fact: 'event', path: '$.properties.items[0].category', operator: 'equal', value: category },
        ],
      },
      add: true,
      tag: `buys_${category}`,
    });
    rules.push({
      conditions: {
        all: [
          on('cart_add'),
          { fact: 'event', path: '$.properties.category', operator: 'equal', value: category },
        ],
      },
      add: true,
      tag: `carts_${category}`,
    });
  }
  rules.push({
    conditions: {
      all: [
        on('order_paid'),
        { fact: 'event', path: '$.properties.amount', operator: 'greaterThanInclusive', value: 1000 },
      ],
    },
    add: true,
    tag: 'big_ticket',
  });
  rules.push({
    conditions: {
      all: [on('coupon_used'), agg('coupon_used', 'count', {}, 'greaterThanInclusive', 3).all[0]],
    },
    add: true,
    tag: 'coupon_hunter',
  });
  rules.push({ conditions: { all: [on('wechat_follow')] }, add: true, tag: 'follower' });
  rules.push({ conditions: { all: [on('wechat_unfollow')] }, add: false, tag: 'follower' });
  rules.push({
    conditions: {
      all: [
        on('qr_scan'),
        { fact: 'event', path: '$.properties.scene', operator: 'equal', value: 'poster_1111' },
      ],
    },
    add: true,
    tag: 'poster_1111',
  });
  rules.push({
    conditions: {
      all: [
        on('qr_scan'),
        { fact: 'event', path: '$.properties.scene', operator: 'equal', value: 'livestream_0618' },
      ],
    },
    add: true,
    tag: 'livestream',
  });
  rules.push({
    conditions: {
      all: [
        on('order_paid'),
        { fact: 'event', path: '$.properties.couponId', operator: 'notEqual', value: null },
      ],
    },
    add: true,
    tag: 'used_coupon_on_order',
  });
  rules.push({ conditions: { all: [on('register')] }, add: true, tag: 'registered' });
  return rules.slice(0, 20).map((r, i) => ({
    id: `rule_${i}`,
    version: 1,
    name: `rule ${i}`,
    conditions: r.conditions as TagRuleDefinition['conditions'],
    event: { type: r.add ? 'add_tags' : 'remove_tags', params: { tags: [r.tag] } },
  }));
}

function stream(n: number): InboundMessage[] {
  const raw: unknown[] = [];
  for (const m of generateStream({
    users: Math.ceil(n / 15),
    days: 30,
    seed: 'bench-rules',
    start: '2026-10-01',
  })) {
    raw.push(m);
    if (raw.length === n) break;
  }
  const messages: InboundMessage[] = [];
  for (let i = 0; i < raw.length; i += 500)
    messages.push(...parseBatch({ batch: raw.slice(i, i + 500) }, Date.parse('2026-11-01T00:00:00Z')));
  return messages;
}

/** Applies the messages in batches of 500 to a fresh memory store; returns events/s. */
async function applyAll(messages: InboundMessage[], workspace: Workspace): Promise<number> {
  const store = new MemoryStore({ eventRetentionMs: 365 * DAY, dedupeHorizonMs: 30 * DAY });
  await store.init();
  const now = Date.parse('2026-11-01T00:00:00Z');
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += 500) {
    await applyBatch(store, messages.slice(i, i + 500), {
      lateGraceMs: 400 * DAY,
      workspace,
      now: () => now,
    });
  }
  const elapsed = performance.now() - t0;
  await store.close();
  return (messages.length / elapsed) * 1000;
}

function series(label: string, results: number[]): number {
  const m = median(results);
  log(`${label}: ${results.map((r) => fmt(r)).join(', ')} -> median ${fmt(m)} events/s`);
  return m;
}

const messages = stream(Number(values.events));
const report: string[] = [];

// 1. 50 segments on the realistic stream, against none.
const fifty = new Workspace({
  segments: fiftySegments(),
  tagRules: twentyTagRules(),
  timezone: 'Asia/Shanghai',
});
if (fifty.tagRules.length !== 20) throw new Error(`expected 20 tag rules, got ${fifty.tagRules.length}`);
const none = new Workspace({ timezone: 'Asia/Shanghai' });
const base: number[] = [];
const with50: number[] = [];
for (let i = 0; i < runs; i++) {
  base.push(await applyAll(messages, none));
  with50.push(await applyAll(messages, fifty));
}
const b = series('none published', base);
const f = series('50 segments and 20 tag rules', with50);
report.push(
  `${fmt(messages.length)} events, 50 segments and 20 tag rules (${fifty.aggregates.length} aggregates): ${fmt(f)} events/s applied (none published: ${fmt(b)} events/s)`,
);

// 2. 1,000 segments of which 10 read product_viewed, on a product_viewed-only stream.
const views = messages.filter((m) => m.type === 'track' && m.event === 'product_viewed');
const relevant: SegmentDefinition[] = Array.from({ length: 10 }, (_, i) => ({
  id: `view_${i}`,
  version: 1,
  name: `views ${i}`,
  condition: agg(
    'product_viewed',
    'count',
    { within: i % 2 ? 'P30D' : 'PT24H' },
    'greaterThanInclusive',
    i + 1,
  ) as SegmentDefinition['condition'],
}));
const others: SegmentDefinition[] = Array.from({ length: 990 }, (_, i) => ({
  id: `other_${i}`,
  version: 1,
  name: `other ${i}`,
  condition: agg(
    `custom_${i % 100}`,
    i % 3 ? 'count' : 'sum',
    i % 3 ? {} : { property: 'value' },
    'greaterThan',
    i,
  ) as SegmentDefinition['condition'],
}));
const ten = new Workspace({ segments: relevant });
const thousand = new Workspace({ segments: [...relevant, ...others] });
const tenRuns: number[] = [];
const thousandRuns: number[] = [];
for (let i = 0; i < runs; i++) {
  tenRuns.push(await applyAll(views, ten));
  thousandRuns.push(await applyAll(views, thousand));
}
const t10 = series('10 segments', tenRuns);
const t1000 = series('1,000 segments, 10 relevant', thousandRuns);
report.push(
  `${fmt(views.length)} product_viewed events: 10 segments ${fmt(t10)} events/s, 1,000 segments (10 read the event) ${fmt(t1000)} events/s: cost ratio ${fmt(t10 / t1000, 2)}x`,
);
process.stdout.write(`\n${report.join('\n')}\n`);
