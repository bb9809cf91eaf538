import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_LIFECYCLE, type LifecycleConfig, validateLifecycleConfig } from '../../lifecycle/config.ts';
import { type LifecycleChange, type LifecycleState, onEvent } from '../../lifecycle/decide.ts';

export const DAY = 86_400_000;
export const T0 = Date.UTC(2026, 0, 5, 9, 0);
export const day = (n: number) => T0 + n * DAY;

export function load(doc: unknown): LifecycleConfig {
  const { config, faults } = validateLifecycleConfig(doc);
  assert.deepEqual(faults, []);
  return config!;
}

/** The demo workspace's lifecycle: churned and reactivated on. */
export const FULL = load(
  JSON.parse(readFileSync(new URL('../../fixtures/workspace/lifecycle.json', import.meta.url), 'utf8')),
);
/** The default lifecycle: churned and reactivated off. */
export const BASIC = DEFAULT_LIFECYCLE;

/** Feeds events to the event-by-event reference (decide.ts), each at its own time; what it emits. */
export function throughDecide(
  events: readonly { name: string; timestamp: number }[],
  config: LifecycleConfig,
): { state: LifecycleState | null; emitted: LifecycleChange[] } {
  let state: LifecycleState | null = null;
  const emitted: LifecycleChange[] = [];
  for (const e of events) {
    const d = onEvent(state, e, e.timestamp, config);
    state = d.state;
    emitted.push(...d.changes);
  }
  return { state, emitted };
}

/** Event names for property tests: activity, conversion, excluded and system events. */
export const NAMES = [
  'app_opened',
  'page',
  'order_paid',
  'newsletter_opened',
  'message_sent',
  'segment_entered',
];

/** 108 configs for property tests: every combination of thresholds, stages and activity rules. */
export const CONFIGS: LifecycleConfig[] = [];
for (const newFor of ['P2D', 'P7D', 'P40D'])
  for (const activeWithin of ['P3D', 'P30D'])
    for (const churnAfter of [null, 'P45D'])
      for (const reactivatedFor of [null, 'P2D', 'P14D'])
        for (const activity of [
          { events: 'all' },
          { events: ['app_opened', 'page'] },
          { exclude: ['newsletter_opened'] },
        ])
          CONFIGS.push(load({ ...FULL, newFor, activeWithin, churnAfter, reactivatedFor, activity }));
