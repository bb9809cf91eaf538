import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  DEFAULT_LIFECYCLE,
  type Fault,
  type LifecycleConfig,
  lifecycleRules,
  validateLifecycleConfig,
} from '../../lifecycle/config.ts';

const fixtureUrl = new URL('../../fixtures/workspace/lifecycle.json', import.meta.url);
const DAY = 86_400_000;

const byPointer = (faults: Fault[]) =>
  [...faults].sort((a, b) => a.pointer.localeCompare(b.pointer) || a.message.localeCompare(b.message));

function faultsOf(doc: unknown): Fault[] {
  const result = validateLifecycleConfig(doc);
  assert.equal(result.config, undefined, 'an invalid document yields no config');
  return byPointer(result.faults);
}

const valid = (patch: Record<string, unknown>) => ({ ...DEFAULT_LIFECYCLE, ...patch });

describe('lifecycle config', () => {
  it('accepts the defaults: new, active, dormant; no churned or reactivated', () => {
    const { config, faults } = validateLifecycleConfig(DEFAULT_LIFECYCLE);
    assert.deepEqual(faults, []);
    assert.equal(config, DEFAULT_LIFECYCLE);
    const rules = lifecycleRules(DEFAULT_LIFECYCLE);
    assert.deepEqual(
      [rules.newFor, rules.activeWithin, rules.churnAfter, rules.reactivatedFor, rules.latency],
      [7 * DAY, 30 * DAY, null, null, 15 * 60_000],
    );
  });

  it('ships a fixture: the defaults with churned and reactivated on, naming the schema', () => {
    const doc = JSON.parse(readFileSync(fixtureUrl, 'utf8')) as LifecycleConfig;
    const { config, faults } = validateLifecycleConfig(doc);
    assert.deepEqual(faults, []);
    assert.ok(config);
    assert.ok(existsSync(new URL(doc.$schema!, fixtureUrl)), 'the $schema path resolves');
    const { $schema: _, ...rest } = doc;
    assert.deepEqual(rest, { ...DEFAULT_LIFECYCLE, churnAfter: 'P90D', reactivatedFor: 'P14D' });
  });

  it('reports every fault at once, each with its JSON pointer', () => {
    const doc = {
      id: 'lifecycles',
      version: 0,
      newFor: 'P1M',
      activeWithin: '30 days',
      churnAfter: 'PT',
      reactivatedFor: 'P0D',
      activity: { events: ['app_opened', 3, 'app_opened', 'segment_entered'] },
      conversionEvents: ['order_paid', 'message_sent'],
      systemEvents: 'push_sent',
      latency: 15,
      timezone: 'UTC',
    };
    assert.deepEqual(faultsOf(doc), [
      {
        pointer: '/activeWithin',
        message: 'must be an ISO 8601 duration in weeks, days, hours, minutes or seconds, e.g. P30D',
      },
      { pointer: '/activity/events/1', message: 'must be a string' },
      { pointer: '/activity/events/2', message: 'repeats an earlier item' },
      { pointer: '/activity/events/3', message: 'is a system event and never counts as activity' },
      {
        pointer: '/churnAfter',
        message: 'must be an ISO 8601 duration in weeks, days, hours, minutes or seconds, e.g. P30D',
      },
      { pointer: '/conversionEvents/1', message: 'is a system event and cannot be a conversion' },
      { pointer: '/id', message: 'must be "lifecycle"' },
      { pointer: '/latency', message: 'must be a string' },
      {
        pointer: '/newFor',
        message: 'must be an ISO 8601 duration in weeks, days, hours, minutes or seconds, e.g. P30D',
      },
      { pointer: '/reactivatedFor', message: 'must be longer than zero' },
      { pointer: '/systemEvents', message: 'must be an array' },
      { pointer: '/timezone', message: 'is not a known key' },
      { pointer: '/version', message: 'must be >= 1' },
    ]);
  });

  it('reports each missing key', () => {
    assert.deepEqual(
      faultsOf({ id: 'lifecycle' }).map((f) => `${f.pointer} ${f.message}`),
      ['/activeWithin', '/activity', '/conversionEvents', '/latency', '/newFor', '/version'].map(
        (p) => `${p} is required`,
      ),
    );
    assert.deepEqual(faultsOf('lifecycle'), [{ pointer: '', message: 'must be an object' }]);
  });

  it('checks the activity set', () => {
    assert.deepEqual(faultsOf(valid({ activity: { events: 'some' } })), [
      { pointer: '/activity/events', message: 'must be "all" or a list of event names' },
    ]);
    assert.deepEqual(faultsOf(valid({ activity: { events: [] } })), [
      { pointer: '/activity/events', message: 'must list at least one event' },
    ]);
    assert.deepEqual(faultsOf(valid({ activity: { events: 'all', exclude: ['x'] } })), [
      { pointer: '/activity', message: 'must have exactly one of "events" or "exclude"' },
    ]);
    assert.deepEqual(faultsOf(valid({ activity: { exclude: ['order_paid', ''] } })), [
      {
        pointer: '/activity/exclude/0',
        message: 'is a conversion event, and conversions always count as activity',
      },
      { pointer: '/activity/exclude/1', message: 'must not be empty' },
    ]);
    assert.deepEqual(faultsOf(valid({ activity: { only: ['x'] } })), [
      { pointer: '/activity/only', message: 'is not a known key' },
    ]);
    assert.deepEqual(
      faultsOf(valid({ systemEvents: ['app_opened'], activity: { events: ['app_opened'] } })),
      [{ pointer: '/activity/events/0', message: 'is a system event and never counts as activity' }],
    );
  });

  it('checks durations with luxon and their order', () => {
    for (const bad of ['P1Y', 'P3M', 'P1DT', '30', '-P1D', 'P1.5D'])
      assert.equal(faultsOf(valid({ newFor: bad }))[0].pointer, '/newFor', bad);
    assert.deepEqual(faultsOf(valid({ latency: 'PT0S' })), [
      { pointer: '/latency', message: 'must be longer than zero' },
    ]);
    assert.deepEqual(faultsOf(valid({ churnAfter: 'P30D' })), [
      { pointer: '/churnAfter', message: 'must be longer than activeWithin' },
    ]);
    assert.deepEqual(faultsOf(valid({ newFor: 'P60D', churnAfter: 'P45D' })), [
      { pointer: '/churnAfter', message: 'must be longer than newFor' },
    ]);
    assert.deepEqual(faultsOf(valid({ churnAfter: 7 })), [
      { pointer: '/churnAfter', message: 'must be a string or null' },
    ]);
    const ok = valid({ newFor: 'P1W', activeWithin: 'P4WT12H', churnAfter: 'P90D', latency: 'PT90.5S' });
    assert.deepEqual(validateLifecycleConfig(ok).faults, []);
    const rules = lifecycleRules(ok as LifecycleConfig);
    assert.deepEqual([rules.newFor, rules.activeWithin, rules.latency], [7 * DAY, 28.5 * DAY, 90_500]);
  });

  it('classifies events: system never, conversions always, the rest by the activity set', () => {
    const all = lifecycleRules(DEFAULT_LIFECYCLE);
    assert.deepEqual(
      ['app_opened', 'order_paid', 'identify', 'lifecycle_changed', 'message_clicked'].map(all.isActivity),
      [true, true, true, false, false],
    );
    const listed = lifecycleRules(valid({ activity: { events: ['app_opened'] } }) as LifecycleConfig);
    assert.deepEqual(['app_opened', 'order_paid', 'page'].map(listed.isActivity), [true, true, false]);
    const excluded = lifecycleRules(
      valid({ activity: { exclude: ['newsletter_opened'] }, systemEvents: ['push_sent'] }) as LifecycleConfig,
    );
    assert.deepEqual(
      ['app_opened', 'newsletter_opened', 'push_sent', 'segment_exited'].map(excluded.isActivity),
      [true, false, false, false],
    );
    assert.deepEqual(['order_paid', 'app_opened'].map(all.isConversion), [true, false]);
  });
});
