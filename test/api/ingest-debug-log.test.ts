import assert from 'node:assert/strict';
import { it } from 'node:test';
import { IngestLog } from '../../api/ingest/debug-log.ts';

it('keeps the last entries, newest first, and the bodies of the newest 500 only', () => {
  const log = new IngestLog(1000);
  for (let i = 0; i < 1500; i++) {
    const errors = i % 10 === 0 ? [{ pointer: `/batch/${i}/event`, message: 'is required' }] : undefined;
    log.message(
      '/v1/b',
      1_700_000_000_000 + i,
      { type: 'track', userId: `u${i}`, event: 'e', writeKey: 'k' },
      i,
      errors,
    );
  }
  const all = log.list({ limit: 5000 });
  assert.equal(all.length, 1000);
  assert.equal(all[0].index, 1499);
  assert.equal(all[999].index, 500);
  // Every entry still says who and what; only the newest 500 carry the message, never its write key.
  assert.ok(all.every((e, n) => e.userId === `u${1499 - n}` && e.type === 'track'));
  assert.equal(all.filter((e) => e.message).length, 500);
  assert.deepEqual(all[0].message, { type: 'track', userId: 'u1499', event: 'e' });
  const rejected = log.list({ limit: 5000, status: 'rejected' });
  assert.equal(rejected.length, 100);
  assert.equal(rejected[0].errors?.[0].pointer, '/batch/1490/event');
  // An oversized message keeps no body at all.
  log.message(
    '/v1/b',
    1,
    { type: 'track', userId: 'big' },
    0,
    [{ pointer: '/batch/0', message: 'x' }],
    undefined,
    false,
  );
  const [big] = log.list({ limit: 1 });
  assert.equal(big.userId, 'big');
  assert.equal(big.message, undefined);
});
