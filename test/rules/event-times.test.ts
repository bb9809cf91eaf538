import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backfillEventTimes,
  emptyEventTimes,
  firstEventAt,
  lastEventAt,
  recordEventTime,
  retainEventTimes,
} from '../../rules/event-times.ts';

const tracked = new Set(['order', 'login']);
const t = (iso: string): number => Date.parse(iso);

describe('event times', () => {
  it('keeps the first and last time per tracked name, in any order', () => {
    const events = [
      { name: 'order', timestamp: t('2024-03-01T00:00:00Z') },
      { name: 'order', timestamp: t('2024-01-15T10:00:00Z') },
      { name: 'order', timestamp: t('2024-02-01T00:00:00Z') },
      { name: 'view', timestamp: t('2024-04-01T00:00:00Z') },
    ];
    const a = backfillEventTimes(events, tracked);
    const b = backfillEventTimes(events.slice().reverse(), tracked);
    assert.deepEqual(a, b);
    assert.deepEqual(Object.keys(a), ['order']);
    assert.equal(firstEventAt(a, 'order'), '2024-01-15T10:00:00.000Z');
    assert.equal(lastEventAt(a, 'order'), '2024-03-01T00:00:00.000Z');
    assert.equal(firstEventAt(a, 'view'), null, 'untracked');
    assert.equal(lastEventAt(a, 'login'), null, 'never seen');
    assert.equal(lastEventAt(emptyEventTimes(), 'order'), null);
  });

  it('returns the same state when nothing changes and never mutates it', () => {
    const s = recordEventTime(emptyEventTimes(), 'login', 100, tracked);
    const s2 = recordEventTime(s, 'login', 300, tracked);
    assert.deepEqual(s, { login: [100, 100] });
    assert.deepEqual(s2, { login: [100, 300] });
    assert.equal(recordEventTime(s2, 'login', 200, tracked), s2);
    assert.equal(recordEventTime(s2, 'view', 50, tracked), s2);
    assert.deepEqual(recordEventTime(s2, 'login', 50, tracked), { login: [50, 300] });
  });

  it('handles awkward names and drops names no longer tracked', () => {
    const names = new Set(['__proto__', 'constructor', 'order']);
    let s = recordEventTime(emptyEventTimes(), '__proto__', 5, names);
    s = recordEventTime(s, 'order', 7, names);
    assert.equal(lastEventAt(s, '__proto__'), new Date(5).toISOString());
    assert.equal(lastEventAt(s, 'constructor'), null);
    assert.deepEqual(JSON.parse(JSON.stringify(retainEventTimes(s, new Set(['order'])))), { order: [7, 7] });
  });
});
