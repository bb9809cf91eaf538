import assert from 'node:assert/strict';
import { it } from 'node:test';
import { scoreBuyers } from '../../segments/value-model.ts';

const DAY = 86_400_000;

it('scores R, F and M by tercile, the 8 groups against the mean, and the value tier', () => {
  // Six buyers, hand-computed: recency (days), orders, spend.
  const buyers = [
    { key: 'a', recency: 1 * DAY, frequency: 9, monetary: 5000 },
    { key: 'b', recency: 3 * DAY, frequency: 5, monetary: 3000 },
    { key: 'c', recency: 10 * DAY, frequency: 4, monetary: 800 },
    { key: 'd', recency: 40 * DAY, frequency: 2, monetary: 600 },
    { key: 'e', recency: 90 * DAY, frequency: 1, monetary: 200 },
    { key: 'f', recency: 200 * DAY, frequency: 1, monetary: 100 },
  ];
  const s = scoreBuyers(buyers);
  // Recency: most recent third (a, b) 3, then (c, d) 2, then (e, f) 1.
  assert.deepEqual(
    ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => s.get(k)?.r),
    [3, 3, 2, 2, 1, 1],
  );
  // Frequency: 1, 1 share the lowest rank; 2, 4 the middle; 5, 9 the top.
  assert.deepEqual(
    ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => s.get(k)?.f),
    [3, 3, 2, 2, 1, 1],
  );
  assert.deepEqual(
    ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => s.get(k)?.tier),
    ['high', 'high', 'medium', 'medium', 'low', 'low'],
  );
  // Means: recency 57.3 days, 3.67 orders, 1,616.7 spend.
  assert.equal(s.get('a')?.group, 'important_value');
  assert.equal(s.get('c')?.group, 'general_value'); // recent, 4 orders > 3.67, 800 < mean
  assert.equal(s.get('d')?.group, 'general_develop'); // 40 days < mean: recent; 2 orders; 600
  assert.equal(s.get('f')?.group, 'general_winback');
});

it('gives equal values the same score and handles a single buyer', () => {
  const same = scoreBuyers([
    { key: 'x', recency: DAY, frequency: 2, monetary: 100 },
    { key: 'y', recency: DAY, frequency: 2, monetary: 100 },
    { key: 'z', recency: DAY, frequency: 2, monetary: 100 },
  ]);
  assert.deepEqual(
    [...same.values()].map((v) => [v.r, v.f, v.m]),
    [
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ],
  );
  const one = scoreBuyers([{ key: 'solo', recency: DAY, frequency: 1, monetary: 50 }]);
  assert.deepEqual(one.get('solo'), { r: 1, f: 1, m: 1, group: 'general_winback', tier: 'low' });
  assert.equal(scoreBuyers([]).size, 0);
});
