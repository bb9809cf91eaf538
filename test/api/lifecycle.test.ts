import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startTestEngine, type TestEngine } from '../../dev/engine.ts';

const DAY = 86_400_000;
let t: TestEngine;
before(async () => {
  t = await startTestEngine();
});
after(() => t.close());

const moves = (list: { from: string | null; to: string }[]) => list.map((m) => `${m.from}>${m.to}`);

it('tells the moves announced from what the activity implies once an older event arrives late', async () => {
  // Default lifecycle: new for 7 days, active within 30. Seen 70 days ago: announced dormant at day -40.
  const at = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString();
  await t.request('POST', '/v1/track', {
    body: { userId: 'lc-late', event: 'app_opened', timestamp: at(70) },
  });
  await t.settle();
  // Then an event of 50 days ago arrives: the user was active until day -20, not dormant from -40.
  await t.request('POST', '/v1/track', {
    body: { userId: 'lc-late', event: 'app_opened', timestamp: at(50) },
  });
  await t.settle();
  const { status, body } = await t.request('GET', '/v1/users/lc-late/lifecycle');
  assert.equal(status, 200);
  assert.deepEqual(moves(body.history), ['null>new', 'new>active', 'active>dormant', 'active>dormant']);
  assert.deepEqual(moves(body.implied), ['null>new', 'new>active', 'active>dormant']);
  const dormantAt = Date.parse(body.implied[2].at);
  assert.ok(Math.abs(dormantAt - (Date.now() - 20 * DAY)) < DAY, `implied dormant at ${body.implied[2].at}`);
  assert.equal(body.state, 'dormant');
});
