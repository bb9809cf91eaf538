import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type LifecycleConfig, lifecycleRules } from '../../lifecycle/config.ts';
import { HISTORY_LIMIT, type LifecycleChange, onTime } from '../../lifecycle/decide.ts';
import {
  mergeTimelines,
  nextTransitionAt,
  recordEvent,
  replay,
  SPAN_LIMIT,
} from '../../lifecycle/timeline.ts';
import { prng as random } from '../../dev/random.ts';
import { BASIC, CONFIGS, DAY, day, FULL, load, NAMES, T0, throughDecide } from './fixtures.ts';
import type { ActivityTimeline, LifecycleStage, Span } from '../../model/lifecycle.ts';

const HOUR = 3_600_000;
function shuffled<T>(items: readonly T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

interface Ev {
  name: string;
  timestamp: number;
}
const ev = (name: string, timestamp: number): Ev => ({ name, timestamp });

function record(events: readonly Ev[], config: LifecycleConfig): ActivityTimeline {
  assert.ok(events.length > 0);
  let t: ActivityTimeline | null = null;
  for (const e of events) t = recordEvent(t, e, config);
  return t!;
}

const change = (from: LifecycleStage | null, to: LifecycleStage, at: number): LifecycleChange => ({
  from,
  to,
  at,
});

const stages = (config: LifecycleConfig): Set<LifecycleStage> => {
  const rules = lifecycleRules(config);
  return new Set<LifecycleStage>([
    'new',
    'active',
    'dormant',
    ...(rules.churnAfter === null ? [] : (['churned'] as const)),
    ...(rules.reactivatedFor === null ? [] : (['reactivated'] as const)),
  ]);
};

/**
 * The spans by definition, from the whole set at once: connected components of the activity
 * instants under "gap < activeWithin", then the components starting before the horizon (latest
 * activity - (SPAN_LIMIT - 2) x activeWithin) folded into one.
 */
function referenceSpans(events: readonly Ev[], config: LifecycleConfig): { spans: Span[]; folded: boolean } {
  const rules = lifecycleRules(config);
  const w = rules.activeWithin;
  const times = events
    .filter((e) => rules.isActivity(e.name))
    .map((e) => e.timestamp)
    .sort((a, b) => a - b);
  const components: Span[] = [];
  for (const t of times) {
    const last = components.at(-1);
    if (last && t - last[1] < w) last[1] = t;
    else components.push([t, t]);
  }
  if (components.length === 0) return { spans: components, folded: false };
  const horizon = times[times.length - 1] - (SPAN_LIMIT - 2) * w;
  const old = components.filter(([start]) => start < horizon);
  if (old.length <= 1) return { spans: components, folded: false };
  return { spans: [[old[0][0], old.at(-1)![1]], ...components.slice(old.length)], folded: true };
}

function checkReplay(t: ActivityTimeline, now: number, config: LifecycleConfig, label: string): void {
  const allowed = stages(config);
  const { state, since, history } = replay(t, now, config);
  assert.ok(history.length >= 1 && history.length <= HISTORY_LIMIT, label);
  if (history.length < HISTORY_LIMIT) assert.equal(history[0].from, null, `${label}: created first`);
  history.forEach((c, i) => {
    assert.notEqual(c.from, c.to, `${label}: a real move`);
    assert.ok(allowed.has(c.to), `${label}: ${c.to} is configured`);
    assert.ok(c.from === null ? i === 0 : allowed.has(c.from), label);
    if (i > 0) {
      assert.equal(c.from, history[i - 1].to, `${label}: chained`);
      assert.ok(c.at >= history[i - 1].at, `${label}: in time order`);
    }
    assert.ok(i === 0 || c.at <= now, `${label}: not after now`);
  });
  assert.equal(state, history.at(-1)!.to, label);
  assert.equal(since, history.at(-1)!.at, label);
  const next = nextTransitionAt(t, now, config);
  assert.ok(next === null || next > now, `${label}: next is after now`);
}

// the decide.test.ts scenario on the fixture config (new 7 d, active 30 d, churn 90 d, reactivated 14 d)
const SCENARIO: Ev[] = [
  ev('signed_up', day(0)),
  ev('order_paid', day(2)),
  ev('app_opened', day(50)),
  ev('page', day(55)),
  ev('app_opened', day(150)),
];
const SCENARIO_MOVES = [
  change(null, 'new', day(0)),
  change('new', 'active', day(2)),
  change('active', 'dormant', day(32)), // the order on day 2 + 30 d
  change('dormant', 'reactivated', day(50)),
  change('reactivated', 'active', day(64)), // 14 d after returning
  change('active', 'dormant', day(85)), // day 55 + 30 d
  change('dormant', 'churned', day(145)), // day 55 + 90 d
  change('churned', 'reactivated', day(150)),
];

describe('lifecycle timeline: the decide.ts scenarios', () => {
  it('replays new d0, active d2, dormant d32, reactivated d50, active d64, dormant d85, churned d145, reactivated d150', () => {
    const points = [0, 1, 2, 3, 31, 32, 33, 49, 50, 51, 55, 63, 64, 70, 84, 85, 100, 144, 145, 149, 150, 160];
    for (const d of points) {
      for (const now of [day(d) - 1, day(d), day(d) + 1]) {
        if (now < day(0)) continue;
        // what the engine knows at `now`: the events up to it, in any order
        const known = SCENARIO.filter((e) => e.timestamp <= now);
        const t = record(shuffled(known, random(d)), FULL);
        const expected = SCENARIO_MOVES.filter((c) => c.at <= now);
        const got = replay(t, now, FULL);
        assert.deepEqual(got.history, expected, `day ${d}, now ${now - day(d)}`);
        assert.equal(got.state, expected.at(-1)!.to);
        assert.equal(got.since, expected.at(-1)!.at);
        checkReplay(t, now, FULL, `day ${d}`);
      }
    }
    const t = record(SCENARIO, FULL);
    assert.deepEqual(t, {
      firstSeenAt: day(0),
      convertedAt: day(2),
      spans: [
        [day(0), day(2)],
        [day(50), day(55)],
        [day(150), day(150)],
      ],
    });
    assert.deepEqual(replay(t, day(160), FULL).history, SCENARIO_MOVES);
    // the timer: when time alone would move the user next
    const nextAt = (events: Ev[], now: number) => nextTransitionAt(record(events, FULL), now, FULL);
    assert.equal(nextAt(SCENARIO.slice(0, 2), day(2)), day(32));
    assert.equal(nextAt(SCENARIO.slice(0, 2), day(32)), day(92)); // no return yet: churn at day 2 + 90 d
    assert.equal(nextAt(SCENARIO.slice(0, 3), day(50)), day(64));
    assert.equal(nextAt(SCENARIO.slice(0, 4), day(64)), day(85));
    assert.equal(nextAt(SCENARIO.slice(0, 4), day(85)), day(145));
    assert.equal(nextAt(SCENARIO, day(160)), day(164));
    assert.deepEqual(replay(t, day(1000), FULL).history.slice(SCENARIO_MOVES.length), [
      change('reactivated', 'active', day(164)),
      change('active', 'dormant', day(180)),
      change('dormant', 'churned', day(240)),
    ]);
    assert.equal(nextTransitionAt(t, day(240), FULL), null);
  });

  it('no longer depends on arrival order: an older return is the return', () => {
    // decide.ts: once dormant since day 32 (and reactivated at day 50), an event from day 49
    // arriving later only updates facts. Here the set decides: the user returned on day 49.
    const base = [ev('order_paid', day(2)), ev('app_opened', day(50))];
    const a = record([...base, ev('app_opened', day(49))], FULL);
    const b = record([base[0], ev('app_opened', day(49)), base[1]], FULL);
    assert.deepEqual(a, b);
    assert.deepEqual(replay(a, day(60), FULL).history, [
      change(null, 'active', day(2)),
      change('active', 'dormant', day(32)),
      change('dormant', 'reactivated', day(49)),
    ]);
  });

  it('ends new after newFor: active when there was activity, dormant when there was none', () => {
    const browsing = record([ev('app_opened', day(0))], FULL);
    assert.deepEqual(replay(browsing, day(100), FULL).history, [
      change(null, 'new', day(0)),
      change('new', 'active', day(7)),
      change('active', 'dormant', day(30)),
      change('dormant', 'churned', day(90)),
    ]);
    const silent = record([ev('message_delivered', day(0))], FULL);
    assert.deepEqual(silent, { firstSeenAt: day(0), convertedAt: null, spans: [] });
    assert.deepEqual(replay(silent, day(100), FULL).history, [
      change(null, 'new', day(0)),
      change('new', 'dormant', day(7)),
      change('dormant', 'churned', day(90)), // first seen + 90 d
    ]);
  });

  it('starts a user whose first event is a conversion as active, with one change', () => {
    const t = record([ev('order_paid', day(0)), ev('app_opened', day(0))], FULL);
    assert.deepEqual(replay(t, day(0), FULL).history, [change(null, 'active', day(0))]);
    assert.equal(nextTransitionAt(t, day(0), FULL), day(30));
  });

  it('ends new early when the user goes quiet, and at a conversion', () => {
    const short = load({ ...FULL, activeWithin: 'P3D', churnAfter: 'P45D' });
    const quiet = record([ev('app_opened', day(0)), ev('app_opened', day(5))], short);
    assert.deepEqual(replay(quiet, day(6), short).history, [
      change(null, 'new', day(0)),
      change('new', 'dormant', day(3)),
      change('dormant', 'reactivated', day(5)),
    ]);
    const paid = record([ev('signed_up', day(0)), ev('order_paid', day(4))], FULL);
    assert.deepEqual(replay(paid, day(4), FULL).history, [
      change(null, 'new', day(0)),
      change('new', 'active', day(4)),
    ]);
  });

  it('keeps a user dormant when the only events are excluded or system ones', () => {
    const config = load({ ...FULL, activity: { exclude: ['newsletter_opened'] } });
    const events = [
      ev('signed_up', day(0)),
      ...['newsletter_opened', 'message_clicked', 'segment_entered', 'lifecycle_changed'].map((name, i) =>
        ev(name, day(41 + i)),
      ),
    ];
    const t = record(events, config);
    assert.deepEqual(t.spans, [[day(0), day(0)]]);
    assert.deepEqual(replay(t, day(95), config).history.slice(-1), [change('dormant', 'churned', day(90))]);
    const back = recordEvent(t, ev('app_opened', day(96)), config);
    assert.deepEqual(replay(back, day(96), config).history.slice(-1), [
      change('churned', 'reactivated', day(96)),
    ]);
  });

  it('has no churned or reactivated stage when the config leaves them out', () => {
    const t = record([ev('signed_up', day(0)), ev('app_opened', day(200))], BASIC);
    assert.equal(nextTransitionAt(record([ev('signed_up', day(0))], BASIC), day(199), BASIC), null);
    assert.deepEqual(replay(t, day(400), BASIC).history, [
      change(null, 'new', day(0)),
      change('new', 'active', day(7)),
      change('active', 'dormant', day(30)),
      change('dormant', 'active', day(200)),
      change('active', 'dormant', day(230)),
    ]);
  });

  it('applies time-driven moves before the events of the same instant, as decide.ts does', () => {
    // activity exactly at the quiet time: dormant, then back, both at that instant
    const t = record([ev('order_paid', day(0)), ev('app_opened', day(30))], FULL);
    assert.deepEqual(replay(t, day(30), FULL).history, [
      change(null, 'active', day(0)),
      change('active', 'dormant', day(30)),
      change('dormant', 'reactivated', day(30)),
    ]);
    // a return exactly at the churn time: churned, then back
    const churn = record([ev('order_paid', day(0)), ev('app_opened', day(90))], FULL);
    assert.deepEqual(replay(churn, day(90), FULL).history.slice(2), [
      change('dormant', 'churned', day(90)),
      change('churned', 'reactivated', day(90)),
    ]);
    // reactivatedFor ending exactly at the quiet time: dormant, not active
    const short = load({ ...FULL, activeWithin: 'P3D', churnAfter: 'P45D' });
    const events = [ev('order_paid', day(0)), ...[10, 12, 14, 16, 18, 20, 21].map((d) => ev('page', day(d)))];
    const back = record(events, short);
    assert.deepEqual(replay(back, day(30), short).history.slice(2), [
      change('dormant', 'reactivated', day(10)),
      change('reactivated', 'dormant', day(24)),
    ]);
    // decide.ts, fed in time order, records the same
    for (const [config, evs, t] of [
      [FULL, [ev('order_paid', day(0)), ev('app_opened', day(30))], day(30)],
      [FULL, [ev('order_paid', day(0)), ev('app_opened', day(90))], day(90)],
      [short, events, day(30)],
    ] as const) {
      const { state, emitted } = throughDecide(evs, config);
      emitted.push(...onTime(state!, t, config).changes);
      assert.deepEqual(replay(record(evs, config), t, config).history, emitted);
    }
  });
});

/** A random event set: sometimes on whole hours or days (ties), sometimes spread far (folding). */
function randomEvents(rnd: () => number): Ev[] {
  const count = 1 + Math.floor(rnd() * 60);
  const range = [20, 120, 600][Math.floor(rnd() * 3)] * DAY;
  const grain = [1, HOUR, DAY][Math.floor(rnd() * 3)];
  return Array.from({ length: count }, () =>
    ev(NAMES[Math.floor(rnd() * NAMES.length)], T0 + Math.floor((rnd() * range) / grain) * grain),
  );
}

describe('lifecycle timeline: order independence', () => {
  it('gives deep-equal timelines and replays for the same set in any order, and when merged from parts', () => {
    let folded = 0;
    for (let run = 0; run < 600; run++) {
      const rnd = random(run + 7);
      const config = CONFIGS[run % CONFIGS.length];
      const events = randomEvents(rnd);
      const label = `run ${run}`;
      const orders = [0, 1, 2].map(() => shuffled(events, rnd));
      const timelines = orders.map((order) => record(order, config));
      assert.deepEqual(timelines[1], timelines[0], `${label}: order 2`);
      assert.deepEqual(timelines[2], timelines[0], `${label}: order 3`);
      const t = timelines[0];

      // the timeline is the set's, by definition
      const times = events.map((e) => e.timestamp);
      const rules = lifecycleRules(config);
      const conversions = events.filter((e) => rules.isConversion(e.name)).map((e) => e.timestamp);
      const reference = referenceSpans(events, config);
      if (reference.folded) folded++;
      assert.deepEqual(
        t,
        {
          firstSeenAt: Math.min(...times),
          convertedAt: conversions.length ? Math.min(...conversions) : null,
          spans: reference.spans,
        },
        label,
      );
      assert.ok(t.spans.length <= SPAN_LIMIT, label);

      // a split in two (an anonymous visitor's history joining the user's), merged either way
      const cut = 1 + Math.floor(rnd() * events.length);
      const parts = shuffled(events, rnd);
      if (cut < parts.length) {
        const a = record(parts.slice(0, cut), config);
        const b = record(parts.slice(cut), config);
        assert.deepEqual(mergeTimelines(a, b, config), t, `${label}: merged`);
        assert.deepEqual(mergeTimelines(b, a, config), t, `${label}: merged the other way`);
      }
      assert.deepEqual(mergeTimelines(t, t, config), t, `${label}: merging is idempotent`);

      const last = Math.max(...times);
      for (const now of [last, last + 10 * DAY, last + 400 * DAY]) {
        const expected = replay(t, now, config);
        for (const other of timelines.slice(1)) assert.deepEqual(replay(other, now, config), expected, label);
        assert.equal(nextTransitionAt(timelines[2], now, config), nextTransitionAt(t, now, config), label);
        checkReplay(t, now, config, `${label} at +${(now - last) / DAY} d`);
      }
    }
    assert.ok(folded > 30, `folding was exercised (${folded} runs)`);
  });

  it('agrees with decide.ts when the events arrive in time order', () => {
    let compared = 0;
    for (let run = 0; run < 400; run++) {
      const rnd = random(run + 5000);
      const config = CONFIGS[run % CONFIGS.length];
      // distinct timestamps (decide.ts resolves ties by arrival order), on whole days half the time
      // so that events also land exactly on due times
      const grain = run % 2 === 0 ? DAY : 1;
      const events: Ev[] = [];
      let at = T0;
      for (let i = 0, n = 1 + Math.floor(rnd() * 40); i < n; i++) {
        at += grain * (1 + Math.floor((rnd() * 12 * DAY) / grain));
        events.push(ev(NAMES[Math.floor(rnd() * NAMES.length)], at));
      }
      const t = record(events, config);
      if (referenceSpans(events, config).folded) continue;
      compared++;

      const { state, emitted } = throughDecide(events, config);
      const end = at + 400 * DAY;
      const rest = onTime(state!, end, config);
      emitted.push(...rest.changes);
      const label = `run ${run}`;
      assert.deepEqual(replay(t, end, config).history, emitted.slice(-HISTORY_LIMIT), label);
      // and at each event's time (the timeline then holds only the events so far)
      for (let i = 0; i < events.length; i++) {
        const now = events[i].timestamp;
        const sofar = record(events.slice(0, i + 1), config);
        const got = replay(sofar, now, config);
        const want = emitted.filter((c) => c.at <= now).slice(-HISTORY_LIMIT);
        assert.deepEqual(got.history, want, `${label} event ${i}`);
      }
    }
    assert.ok(compared > 200, `compared ${compared} runs`);
  });
});

describe('lifecycle timeline: replay over time', () => {
  it('is prefix-consistent in now, and nextTransitionAt finds the first move after now', () => {
    for (let run = 0; run < 400; run++) {
      const rnd = random(run + 9000);
      const config = CONFIGS[(run * 7) % CONFIGS.length];
      const events = randomEvents(rnd);
      const t = record(events, config);
      const first = t.firstSeenAt;
      const span = Math.max(...events.map((e) => e.timestamp)) - first + 300 * DAY;
      for (let k = 0; k < 8; k++) {
        const label = `run ${run} pair ${k}`;
        const a = first + Math.floor(rnd() * span);
        const b = rnd() < 0.2 ? a + 1 : a + 1 + Math.floor(rnd() * (first + span - a));
        const h1 = replay(t, a, config).history;
        const h2 = replay(t, b, config).history;
        const upToA = h2.filter((c) => c.at <= a);
        // the cut keeps the newest HISTORY_LIMIT: what is left at b is the tail of what was at a
        assert.deepEqual(h1.slice(h1.length - upToA.length), upToA, `${label}: prefix`);
        if (h2.length < HISTORY_LIMIT) assert.deepEqual(h1, upToA, `${label}: prefix, uncut`);
        const next = nextTransitionAt(t, a, config);
        const between = h2.filter((c) => c.at > a);
        if (upToA.length > 0 || h2.length < HISTORY_LIMIT) {
          // h2 holds every move in (a, b]
          assert.equal(between.length > 0 ? next : null, between.length > 0 ? between[0].at : null, label);
          if (between.length === 0) assert.ok(next === null || next > b, `${label}: nothing due by b`);
        } else assert.ok(next !== null && next <= between[0].at, label);
        if (next !== null) {
          const h3 = replay(t, next, config).history;
          assert.equal(h3.at(-1)!.at, next, `${label}: a move at next`);
        } else assert.deepEqual(replay(t, a + 10_000 * DAY, config), replay(t, a, config), label);
      }
    }
  });
});

describe('lifecycle timeline: bounded', () => {
  it("keeps at most 24 spans for 1,000 spans' worth of activity, whatever the order", (ctx) => {
    const short = load({ ...FULL, activeWithin: 'P3D', churnAfter: 'P45D' });
    for (const [config, pattern] of [
      [FULL, 'dense'],
      [short, 'dense'],
      [FULL, 'sparse'],
      [short, 'sparse'],
    ] as const) {
      const w = lifecycleRules(config).activeWithin;
      const events: Ev[] = [];
      let lastSpan: Span = [0, 0];
      for (let i = 0; i < 1000; i++) {
        if (pattern === 'dense') {
          // single instants exactly activeWithin apart: 1,000 spans, the most any stretch can hold
          events.push(ev(i % 2 ? 'app_opened' : 'page', T0 + i * w));
          lastSpan = [T0 + i * w, T0 + i * w];
        } else {
          // spans of w/2 with gaps of 1.5 w
          const start = T0 + i * 2 * w;
          events.push(ev('app_opened', start), ev('page', start + w / 4), ev('order_paid', start + w / 2));
          lastSpan = [start, start + w / 2];
        }
      }
      const inOrder = record(events, config);
      const t = record(shuffled(events, random(42)), config);
      assert.deepEqual(t, inOrder);
      assert.ok(t.spans.length <= SPAN_LIMIT, `${t.spans.length} spans`);
      if (pattern === 'dense') assert.equal(t.spans.length, SPAN_LIMIT);
      assert.deepEqual(t.spans, referenceSpans(events, config).spans);
      // the newest spans are exact, the older ones folded into the first
      assert.deepEqual(t.spans.at(-1), lastSpan);
      assert.equal(t.spans[0][0], T0);
      const half = events.length / 2;
      const merged = mergeTimelines(
        record(events.slice(0, half), config),
        record(events.slice(half), config),
        config,
      );
      assert.deepEqual(merged, t);
      const size = JSON.stringify(t).length;
      ctx.diagnostic(
        `${pattern}, activeWithin ${config.activeWithin}: ${events.length} events, ${t.spans.length} spans, JSON ${size} bytes`,
      );
      assert.ok(size < 1000, `JSON ${size} bytes`);
      const end = lastSpan[1] + 1000 * w;
      checkReplay(t, end, config, 'bounded');
      const { history } = replay(t, end, config);
      assert.equal(history.length, HISTORY_LIMIT);
      assert.equal(history.at(-1)!.to, 'churned');
    }
  });
});
