import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../engine/clock.ts';
import { type LifecycleConfig, lifecycleRules } from '../../lifecycle/config.ts';
import {
  HISTORY_LIMIT,
  type LifecycleChange,
  type LifecycleState,
  nextCheckAt,
  onEvent,
  onTime,
} from '../../lifecycle/decide.ts';
import type { TimerHandle } from '../../ports/clock.ts';
import { prng as random } from '../../dev/random.ts';
import { BASIC, CONFIGS, DAY, day, FULL, load, NAMES } from './fixtures.ts';
import type { LifecycleStage } from '../../model/lifecycle.ts';

const MIN = 60_000;
const change = (from: LifecycleStage | null, to: LifecycleStage, at: number): LifecycleChange => ({
  from,
  to,
  at,
});

/**
 * One user driven the way the engine will drive it: one timer per user at nextCheckAt plus a jitter
 * within the latency, onTime when it fires, onEvent on each event. Records every change it emits.
 */
class SimUser {
  state: LifecycleState | null = null;
  readonly emitted: LifecycleChange[] = [];
  /** (change, the clock when it was computed) for time-driven changes. */
  readonly timed: { change: LifecycleChange; now: number }[] = [];
  private timer: TimerHandle | undefined;
  private readonly jitter: () => number;

  constructor(
    readonly clock: VirtualClock,
    readonly config: LifecycleConfig,
    seed = 1,
  ) {
    const rnd = random(seed);
    const latency = lifecycleRules(config).latency;
    this.jitter = () => Math.floor(rnd() * latency);
  }

  async event(name: string, at: number, late = false): Promise<LifecycleChange[]> {
    await this.clock.advanceTo(at);
    return this.apply(onEvent(this.state, { name, timestamp: at, late }, this.clock.now(), this.config));
  }

  private apply(decision: { state: LifecycleState; changes: LifecycleChange[] }): LifecycleChange[] {
    this.state = decision.state;
    this.emitted.push(...decision.changes);
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    const next = nextCheckAt(decision.state, this.config);
    if (next !== null) {
      this.timer = this.clock.setTimer(
        () => {
          const now = this.clock.now();
          const d = onTime(this.state!, now, this.config);
          for (const c of d.changes) this.timed.push({ change: c, now });
          this.apply(d);
        },
        next + this.jitter() - this.clock.now(),
      );
    }
    return decision.changes;
  }
}

const stages = (config: LifecycleConfig): LifecycleStage[] => {
  const rules = lifecycleRules(config);
  return [
    'new',
    'active',
    'dormant',
    ...(rules.churnAfter === null ? [] : (['churned'] as const)),
    ...(rules.reactivatedFor === null ? [] : (['reactivated'] as const)),
  ];
};

describe('lifecycle decisions on a virtual clock', () => {
  it('moves a user new, active, dormant, reactivated, active, dormant, churned, reactivated', async () => {
    const clock = new VirtualClock(day(0));
    const user = new SimUser(clock, FULL);
    const latency = lifecycleRules(FULL).latency;

    assert.deepEqual(await user.event('signed_up', day(0)), [change(null, 'new', day(0))]);
    assert.deepEqual(await user.event('order_paid', day(2)), [change('new', 'active', day(2))]);
    await user.event('app_opened', day(50));
    await user.event('page', day(55));
    await clock.advanceTo(day(149));
    assert.equal(user.state!.state, 'churned');
    await user.event('app_opened', day(150));
    await clock.advanceTo(day(160));

    assert.deepEqual(user.emitted, [
      change(null, 'new', day(0)),
      change('new', 'active', day(2)),
      change('active', 'dormant', day(32)), // the order on day 2 + 30 d
      change('dormant', 'reactivated', day(50)),
      change('reactivated', 'active', day(64)), // 14 d after returning
      change('active', 'dormant', day(85)), // day 55 + 30 d
      change('dormant', 'churned', day(145)), // day 55 + 90 d
      change('churned', 'reactivated', day(150)),
    ]);
    assert.deepEqual(user.state!.history, user.emitted);
    assert.equal(user.state!.since, day(150));
    // time-driven moves were computed within the latency after they became due, stamped when due
    assert.equal(user.timed.length, 4);
    for (const { change: c, now } of user.timed) assert.ok(now >= c.at && now - c.at < latency, `${c.to}`);
    // and each is emitted once: the state is current, nothing more is due
    assert.deepEqual(onTime(user.state!, clock.now(), FULL).changes, []);
    assert.equal(nextCheckAt(user.state!, FULL), day(164));
  });

  it('ends new after newFor: active when there was activity, dormant when there was none', async () => {
    const clock = new VirtualClock(day(0));
    const browsing = new SimUser(clock, FULL, 2);
    const silent = new SimUser(clock, FULL, 3);
    await browsing.event('app_opened', day(0));
    await silent.event('message_delivered', day(0));
    await clock.advanceTo(day(100));
    assert.deepEqual(browsing.emitted.slice(1), [
      change('new', 'active', day(7)),
      change('active', 'dormant', day(30)),
      change('dormant', 'churned', day(90)),
    ]);
    assert.deepEqual(silent.emitted.slice(1), [
      change('new', 'dormant', day(7)),
      change('dormant', 'churned', day(90)), // first seen + 90 d
    ]);
  });

  it('starts a user whose first event is a conversion as active, with one change', async () => {
    const user = new SimUser(new VirtualClock(day(0)), FULL);
    assert.deepEqual(await user.event('order_paid', day(0)), [change(null, 'active', day(0))]);
  });

  it('keeps a user dormant when the only events are excluded or system ones', async () => {
    const config = load({ ...FULL, activity: { exclude: ['newsletter_opened'] } });
    const clock = new VirtualClock(day(0));
    const user = new SimUser(clock, config);
    await user.event('signed_up', day(0));
    await clock.advanceTo(day(40));
    assert.equal(user.state!.state, 'dormant');
    for (const [i, name] of [
      'newsletter_opened',
      'message_clicked',
      'segment_entered',
      'lifecycle_changed',
    ].entries())
      assert.deepEqual(await user.event(name, day(41 + i)), [], name);
    assert.equal(user.state!.lastActivityAt, day(0));
    await clock.advanceTo(day(95));
    assert.deepEqual(user.emitted.slice(-1), [change('dormant', 'churned', day(90))]);
    assert.deepEqual(await user.event('app_opened', day(96)), [change('churned', 'reactivated', day(96))]);
  });

  it('has no churned or reactivated stage when the config leaves them out', async () => {
    const clock = new VirtualClock(day(0));
    const user = new SimUser(clock, BASIC);
    await user.event('signed_up', day(0));
    await clock.advanceTo(day(199));
    assert.equal(nextCheckAt(user.state!, BASIC), null);
    assert.deepEqual(await user.event('app_opened', day(200)), [change('dormant', 'active', day(200))]);
    await clock.advanceTo(day(400));
    assert.deepEqual(user.emitted, [
      change(null, 'new', day(0)),
      change('new', 'active', day(7)),
      change('active', 'dormant', day(30)),
      change('dormant', 'active', day(200)),
      change('active', 'dormant', day(230)),
    ]);
  });

  it('leaves a stage the config no longer has at the next check', () => {
    const churned: LifecycleState = {
      state: 'churned',
      since: day(90),
      firstSeenAt: day(0),
      lastActivityAt: day(0),
      convertedAt: null,
      history: [],
    };
    assert.deepEqual(onTime(churned, day(100), BASIC).changes, [change('churned', 'dormant', day(90))]);
    const reactivated: LifecycleState = {
      ...churned,
      state: 'reactivated',
      since: day(95),
      lastActivityAt: day(95),
    };
    assert.deepEqual(onTime(reactivated, day(100), BASIC).changes, [
      change('reactivated', 'active', day(95)),
    ]);
  });
});

describe('lifecycle timing', () => {
  const activeSince2: LifecycleState = {
    state: 'active',
    since: day(2),
    firstSeenAt: day(0),
    lastActivityAt: day(2),
    convertedAt: day(2),
    history: [change(null, 'new', day(0)), change('new', 'active', day(2))],
  };

  it('stamps moves computed late with the time they became due, several at once after downtime', () => {
    assert.equal(nextCheckAt(activeSince2, FULL), day(32));
    assert.deepEqual(onTime(activeSince2, day(32) - 1, FULL).changes, []);
    assert.deepEqual(onTime(activeSince2, day(32) + 10 * MIN, FULL).changes, [
      change('active', 'dormant', day(32)),
    ]);
    const { state, changes } = onTime(activeSince2, day(200), FULL);
    assert.deepEqual(changes, [change('active', 'dormant', day(32)), change('dormant', 'churned', day(92))]);
    assert.deepEqual(state.history.slice(2), changes);
    assert.deepEqual(onTime(state, day(200), FULL).changes, []);
  });

  it('applies what was due before an event that arrives ahead of the timer', () => {
    const { changes } = onEvent(
      activeSince2,
      { name: 'app_opened', timestamp: day(32) + 5 * MIN },
      day(32) + 6 * MIN,
      FULL,
    );
    assert.deepEqual(changes, [
      change('active', 'dormant', day(32)),
      change('dormant', 'reactivated', day(32) + 5 * MIN),
    ]);
  });

  it('never moves anyone back for an old or late event; it only updates the facts', () => {
    const dormant = onTime(activeSince2, day(40), FULL).state;
    // older than the current stage (within the grace period): no return, activity recorded
    const older = onEvent(dormant, { name: 'app_opened', timestamp: day(20) }, day(40), FULL);
    assert.deepEqual(older.changes, []);
    assert.equal(older.state.state, 'dormant');
    assert.equal(older.state.lastActivityAt, day(20));
    assert.equal(nextCheckAt(older.state, FULL), day(110)); // churn counts from the newer activity
    // flagged late (older than the grace period): no return either
    const late = onEvent(dormant, { name: 'app_opened', timestamp: day(39), late: true }, day(40), FULL);
    assert.deepEqual(late.changes, []);
    assert.equal(late.state.lastActivityAt, day(39));
    // an even older event changes no fact it should not
    const ancient = onEvent(older.state, { name: 'app_opened', timestamp: day(1) }, day(40), FULL);
    assert.equal(ancient.state.lastActivityAt, day(20));
  });

  it('stamps a move made due by an old event at now, not in the past', () => {
    const created = onEvent(null, { name: 'signed_up', timestamp: day(0) }, day(0), FULL).state;
    const paid = onEvent(created, { name: 'order_paid', timestamp: day(0) - 60 * MIN }, day(3), FULL);
    assert.deepEqual(paid.changes, [change('new', 'active', day(3))]);
    assert.equal(paid.state.firstSeenAt, day(0) - 60 * MIN);
    assert.equal(paid.state.convertedAt, day(0) - 60 * MIN);
  });

  it('treats a timestamp in the future as now', () => {
    const { state, changes } = onEvent(null, { name: 'signed_up', timestamp: day(5) }, day(0), FULL);
    assert.deepEqual(changes, [change(null, 'new', day(0))]);
    assert.equal(state.lastActivityAt, day(0));
  });

  it('keeps the last 20 moves', () => {
    let state = onEvent(null, { name: 'signed_up', timestamp: day(0) }, day(0), FULL).state;
    for (let i = 1; i <= 30; i++)
      state = onEvent(state, { name: 'app_opened', timestamp: day(i * 50) }, day(i * 50), FULL).state;
    assert.equal(state.history.length, HISTORY_LIMIT);
    assert.equal(state.history.at(-1)!.at, day(1500));
  });
});

describe('lifecycle properties', () => {
  const configs = CONFIGS;

  it('emits only real moves, chained, in time order, between configured stages; facts do not depend on order', () => {
    for (let run = 0; run < 400; run++) {
      const rnd = random(run + 100);
      const config = configs[run % configs.length];
      const rules = lifecycleRules(config);
      const allowed = new Set<LifecycleStage | null>(stages(config));
      let now = day(0);
      let state: LifecycleState | null = null;
      const emitted: LifecycleChange[] = [];
      const seen: { name: string; t: number }[] = [];
      for (let step = 0; step < 40; step++) {
        now += Math.floor(rnd() * 12 * DAY);
        let decision;
        if (state !== null && rnd() < 0.3) {
          const next = nextCheckAt(state, config);
          if (next !== null && next > now) now = rnd() < 0.5 ? next : now;
          decision = onTime(state, now, config);
        } else {
          const name = NAMES[Math.floor(rnd() * NAMES.length)];
          const timestamp = now - Math.floor(rnd() * 3 * DAY) + (rnd() < 0.05 ? DAY : 0);
          decision = onEvent(state, { name, timestamp, late: rnd() < 0.1 }, now, config);
          seen.push({ name, t: Math.min(timestamp, now) });
        }
        const label = `run ${run} step ${step}`;
        for (const c of decision.changes) {
          assert.notEqual(c.from, c.to, label);
          assert.ok(allowed.has(c.to), label);
          assert.equal(c.from, emitted.at(-1)?.to ?? null, `${label}: chained`);
          assert.ok(c.at >= (emitted.at(-1)?.at ?? -Infinity) && c.at <= now, `${label}: in time order`);
          emitted.push(c);
        }
        state = decision.state;
        assert.ok(allowed.has(state.state), label);
        assert.equal(state.since, emitted.at(-1)!.at, label);
        assert.deepEqual(state.history, emitted.slice(-HISTORY_LIMIT), label);
        assert.deepEqual(onTime(state, now, config).changes, [], `${label}: caught up`);
        const next = nextCheckAt(state, config);
        assert.ok(next === null || next > now, label);
        assert.deepEqual(JSON.parse(JSON.stringify(state)), state, `${label}: plain JSON`);

        const times = (keep: (name: string) => boolean) => seen.filter((e) => keep(e.name)).map((e) => e.t);
        const activity = times(rules.isActivity);
        const conversions = times(rules.isConversion);
        assert.equal(state.firstSeenAt, Math.min(...times(() => true)), label);
        assert.equal(state.lastActivityAt, activity.length ? Math.max(...activity) : null, label);
        assert.equal(state.convertedAt, conversions.length ? Math.min(...conversions) : null, label);
      }
    }
  });
});
