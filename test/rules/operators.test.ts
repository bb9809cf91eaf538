import { test } from 'node:test';
import assert from 'node:assert/strict';
import { customOperators } from '../../rules/operators.ts';
import { durationMs, isValidDuration } from '../../rules/durations.ts';

const { withinLast, notWithinLast, olderThan, anniversaryToday, anniversaryThisMonth, hasTag, inSegment } =
  customOperators;
const at = (iso: string, timezone = 'UTC') => ({ now: Date.parse(iso), timezone });
const ctx = at('2026-03-14T12:00:00Z');

test('durations: ISO 8601, positive, fixed lengths', () => {
  assert.equal(durationMs('P30D'), 30 * 86_400_000);
  assert.equal(durationMs('PT24H'), 86_400_000);
  assert.equal(durationMs('P1W'), 7 * 86_400_000);
  assert.equal(durationMs('PT0.5H'), 1_800_000);
  assert.equal(durationMs('P1M'), 30 * 86_400_000);
  for (const bad of ['P', 'PT', 'P1DT', 'p1d', '30D', 'P-1D', '-P1D', 'PT0S', 'P0D', '', 'P1.D']) {
    assert.equal(isValidDuration(bad), false, bad);
  }
  assert.equal(isValidDuration(30), false);
  assert.throws(() => durationMs('P0D'), RangeError);
});

test('withinLast: now - d <= t <= now, inclusive at both ends', () => {
  assert.equal(withinLast('2026-03-10T00:00:00Z', 'P7D', ctx), true);
  assert.equal(withinLast('2026-03-07T12:00:00Z', 'P7D', ctx), true, 'exactly 7 days ago');
  assert.equal(withinLast('2026-03-07T11:59:59.999Z', 'P7D', ctx), false);
  assert.equal(withinLast('2026-03-14T12:00:00Z', 'P7D', ctx), true, 'now');
  assert.equal(
    withinLast('2026-03-14T12:00:00.001Z', 'P7D', ctx),
    false,
    'the future is not within the last',
  );
  assert.equal(withinLast('2026-03-14T19:00:00+08:00', 'PT1H', ctx), true, 'offsets are honoured');
  assert.equal(withinLast(Date.parse('2026-03-14T11:30:00Z'), 'PT1H', ctx), true, 'epoch ms');
});

test('time facts as dates are read in the user timezone', () => {
  // 2026-03-14 00:00 in Shanghai is 2026-03-13T16:00Z: 20 h before now.
  assert.equal(withinLast('2026-03-14', 'PT20H', at('2026-03-14T12:00:00Z', 'Asia/Shanghai')), true);
  assert.equal(withinLast('2026-03-14', 'PT20H', at('2026-03-14T12:00:00Z', 'UTC')), true);
  assert.equal(withinLast('2026-03-14', 'PT11H', at('2026-03-14T12:00:00Z', 'Asia/Shanghai')), false);
  // ... and in Los Angeles (PDT) 2026-03-14T07:00Z: 5 h before now.
  assert.equal(withinLast('2026-03-14', 'PT5H', at('2026-03-14T12:00:00Z', 'America/Los_Angeles')), true);
  assert.equal(withinLast('2026-03-14', 'PT4H', at('2026-03-14T12:00:00Z', 'America/Los_Angeles')), false);
  assert.equal(
    withinLast('2026-03-15', 'P1D', at('2026-03-14T12:00:00Z', 'Asia/Shanghai')),
    false,
    'the future',
  );
  assert.equal(
    withinLast('2026-03-14T19:00', 'PT3H', at('2026-03-14T12:00:00Z', 'Asia/Shanghai')),
    true,
    'a local time (11:00Z)',
  );
});

test('missing, null and unparseable times: never happened', () => {
  for (const missing of [null, undefined, '', 'yesterday', '2026-13-01', '2026-02-30', {}, [], true, NaN]) {
    assert.equal(withinLast(missing, 'P7D', ctx), false, String(missing));
    assert.equal(olderThan(missing, 'P7D', ctx), false, String(missing));
    assert.equal(notWithinLast(missing, 'P7D', ctx), true, String(missing));
  }
});

test('notWithinLast negates withinLast; olderThan is strict', () => {
  assert.equal(notWithinLast('2026-03-10T00:00:00Z', 'P7D', ctx), false);
  assert.equal(notWithinLast('2026-01-01T00:00:00Z', 'P7D', ctx), true);
  assert.equal(
    notWithinLast('2026-04-01T00:00:00Z', 'P7D', ctx),
    true,
    'a future time is not within the last',
  );
  assert.equal(olderThan('2026-01-01T00:00:00Z', 'P30D', ctx), true);
  assert.equal(olderThan('2026-02-12T12:00:00Z', 'P30D', ctx), false, 'exactly 30 days is not older');
  assert.equal(olderThan('2026-02-12T11:59:59Z', 'P30D', ctx), true);
  assert.equal(olderThan('2026-04-01T00:00:00Z', 'P30D', ctx), false);
});

test('an invalid duration makes every time operator false', () => {
  for (const op of [withinLast, notWithinLast, olderThan]) {
    for (const bad of ['bogus', 'P0D', null, 7]) assert.equal(op('2026-03-10T00:00:00Z', bad, ctx), false);
  }
});

test('anniversaryToday: the same instant is 15 March in Shanghai and 14 March in Los Angeles', () => {
  const instant = '2026-03-14T20:00:00Z';
  const shanghai = at(instant, 'Asia/Shanghai');
  const losAngeles = at(instant, 'America/Los_Angeles');
  assert.equal(anniversaryToday('1990-03-15', true, shanghai), true);
  assert.equal(anniversaryToday('1990-03-15', true, losAngeles), false);
  assert.equal(anniversaryToday('1990-03-14', true, shanghai), false);
  assert.equal(anniversaryToday('1990-03-14', true, losAngeles), true);
  assert.equal(anniversaryToday('1990-03-14', false, losAngeles), false, 'false negates');
  assert.equal(anniversaryToday('1990-03-15', false, losAngeles), true);
});

test('anniversaryToday: day boundaries in the user timezone', () => {
  // Shanghai midnight of 15 March is 2026-03-14T16:00Z.
  assert.equal(anniversaryToday('1990-03-15', true, at('2026-03-14T15:59:59.999Z', 'Asia/Shanghai')), false);
  assert.equal(anniversaryToday('1990-03-15', true, at('2026-03-14T16:00:00Z', 'Asia/Shanghai')), true);
  // Los Angeles (PDT, UTC-7 from 8 March 2026) midnight of 15 March is 2026-03-15T07:00Z.
  assert.equal(anniversaryToday('1990-03-14', true, at('2026-03-15T06:59:59Z', 'America/Los_Angeles')), true);
  assert.equal(
    anniversaryToday('1990-03-14', true, at('2026-03-15T07:00:00Z', 'America/Los_Angeles')),
    false,
  );
});

test('anniversaryToday: a datetime fact counts by its calendar date as written', () => {
  const losAngeles = at('2026-03-14T20:00:00Z', 'America/Los_Angeles');
  assert.equal(anniversaryToday('1990-03-14T23:30:00+08:00', true, losAngeles), true);
  assert.equal(
    anniversaryToday('1990-03-14T23:30:00Z', true, at('2026-03-15T01:00:00Z', 'Asia/Shanghai')),
    false,
  );
});

test('anniversaryThisMonth: the month in the user timezone, 29 February and missing dates', () => {
  // 2026-03-31T20:00Z is already 1 April in Shanghai, still 31 March in Los Angeles.
  const instant = '2026-03-31T20:00:00Z';
  assert.equal(anniversaryThisMonth('1990-04-02', true, at(instant, 'Asia/Shanghai')), true);
  assert.equal(anniversaryThisMonth('1990-04-02', true, at(instant, 'America/Los_Angeles')), false);
  assert.equal(anniversaryThisMonth('1990-03-02', true, at(instant, 'America/Los_Angeles')), true);
  assert.equal(anniversaryThisMonth('1990-03-02', false, at(instant, 'America/Los_Angeles')), false);
  assert.equal(
    anniversaryThisMonth('1992-02-29', true, at('2026-02-10T12:00:00Z')),
    true,
    'leap-day birthday',
  );
  for (const missing of [null, undefined, '', 'not a date', '1990-02-30', 7])
    assert.equal(anniversaryThisMonth(missing, true, ctx), false, String(missing));
  assert.equal(anniversaryThisMonth(null, false, ctx), true, 'no birthday: not this month');
  assert.equal(anniversaryThisMonth('1990-03-14', 'yes', ctx), false, 'a non-boolean value never holds');
});

test('anniversaryToday: 29 February birthdays', () => {
  const leapBirthday = '1992-02-29';
  assert.equal(anniversaryToday(leapBirthday, true, at('2028-02-29T12:00:00Z')), true, 'leap year: 29 Feb');
  assert.equal(
    anniversaryToday(leapBirthday, true, at('2028-02-28T12:00:00Z')),
    false,
    'leap year: not 28 Feb',
  );
  assert.equal(
    anniversaryToday(leapBirthday, true, at('2026-02-28T12:00:00Z')),
    true,
    'non-leap year: 28 Feb',
  );
  assert.equal(
    anniversaryToday(leapBirthday, true, at('2026-03-01T12:00:00Z')),
    false,
    'non-leap year: not 1 Mar',
  );
  assert.equal(anniversaryToday('1990-02-28', true, at('2028-02-28T12:00:00Z')), true);
  assert.equal(anniversaryToday('1990-02-28', true, at('2028-02-29T12:00:00Z')), false);
  assert.equal(anniversaryToday('2100-02-28', true, at('2100-02-28T12:00:00Z')), true);
  assert.equal(
    anniversaryToday(leapBirthday, true, at('2100-02-28T12:00:00Z')),
    true,
    '2100 is not a leap year',
  );
  // 28 Feb in Shanghai while still 27 Feb in Los Angeles.
  assert.equal(anniversaryToday(leapBirthday, true, at('2026-02-27T20:00:00Z', 'Asia/Shanghai')), true);
  assert.equal(
    anniversaryToday(leapBirthday, true, at('2026-02-27T20:00:00Z', 'America/Los_Angeles')),
    false,
  );
});

test('anniversaryToday: missing or invalid dates are never an anniversary', () => {
  for (const missing of [null, undefined, '', 'March 14', '1990-02-30', '1990-02-29', 637372800000, {}]) {
    assert.equal(anniversaryToday(missing, true, ctx), false, String(missing));
    assert.equal(anniversaryToday(missing, false, ctx), true, String(missing));
  }
  assert.equal(anniversaryToday('1990-03-14', 'yes', ctx), false, 'value must be a boolean');
  assert.equal(
    anniversaryToday('1990-03-14', true, at('2026-03-14T12:00:00Z', 'Not/AZone')),
    true,
    'bad zone: UTC',
  );
});

test('hasTag / inSegment: a list or the profile object', () => {
  const profile = { tags: ['vip', 'price_sensitive'], segments: ['big_spenders'] };
  assert.equal(hasTag(profile, 'vip', ctx), true);
  assert.equal(hasTag(profile.tags, 'vip', ctx), true);
  assert.equal(hasTag(profile, 'new', ctx), false);
  assert.equal(hasTag(profile, 'big_spenders', ctx), false, 'tags and segments are distinct');
  assert.equal(inSegment(profile, 'big_spenders', ctx), true);
  assert.equal(inSegment(profile.segments, 'big_spenders', ctx), true);
  assert.equal(inSegment(profile, 'vip', ctx), false);
  for (const missing of [null, undefined, {}, { tags: null }, 'vip', 5]) {
    assert.equal(hasTag(missing, 'vip', ctx), false, JSON.stringify(missing));
    assert.equal(inSegment(missing, 'vip', ctx), false, JSON.stringify(missing));
  }
  assert.equal(hasTag(['vip'], 5, ctx), false);
  assert.equal(hasTag([5], 5, ctx), false);
});
