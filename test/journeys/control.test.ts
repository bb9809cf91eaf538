import assert from 'node:assert/strict';
import { it } from 'node:test';
import { applyJourneyState } from '../../engine/jobs/journey-control.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import type { JourneyRunState } from '../../journeys/journey-set.ts';
import { journeyEngine } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z');
const HOUR = 3_600_000;

const reminder: JourneyDefinition = {
  id: 'reminder',
  version: 1,
  name: 'Reminder',
  trigger: { type: 'event', event: 'signed_up' },
  entry: { reentry: 'anytime' },
  steps: [
    { id: 'hello', type: 'send', channel: 'sandbox', template: 'hello' },
    { id: 'later', type: 'wait', duration: 'PT1H' },
    { id: 'remind', type: 'send', channel: 'sandbox', template: 'remind' },
  ],
};

const signup = (userId: string, at: number) => ({
  type: 'track',
  userId,
  event: 'signed_up',
  messageId: `${userId}-${at}`,
  timestamp: new Date(at).toISOString(),
});

async function setup() {
  const e = await journeyEngine({ journeys: [reminder] }, T0);
  const state = async (run: JourneyRunState) => {
    e.publish({ journeys: [reminder], journeyStates: { reminder: run } });
    await applyJourneyState(e.store, 'reminder', {
      workspace: e.workspace(),
      now: () => e.clock.now(),
      lateGraceMs: 86_400_000,
      scheduleChecks: async () => {},
    });
  };
  return { e, state };
}

it('pause holds users where they are and lets no one in; resume fires held timers at the resume', async () => {
  const { e, state } = await setup();
  await e.send([signup('ann', T0)]);
  await e.clock.advanceTo(T0 + HOUR / 2);
  await state({ state: 'paused' });
  await e.clock.advanceTo(T0 + 2 * HOUR);
  await e.send([signup('bob', T0 + 2 * HOUR)]);
  assert.deepEqual((await e.timeline('ann')).slice(-1), [
    '03-02 02:00 journey_step later timer 2026-03-02T03:00:00.000Z',
  ]);
  assert.deepEqual(await e.timeline('bob'), [], 'no entries while paused');

  await e.clock.advanceTo(T0 + 3 * HOUR);
  await state({ state: 'running', since: e.clock.now() });
  assert.deepEqual((await e.timeline('ann')).slice(-4), [
    '03-02 02:00 journey_step later timer 2026-03-02T03:00:00.000Z',
    '03-02 05:00 journey_step remind reached',
    // Queued: this resume runs by hand without timers, so no job hands the message to the gateway.
    '03-02 05:00 message_sent sandbox:remind queued',
    '03-02 05:00 journey_exited completed',
  ]);
  await e.send([signup('bob', T0 + 3 * HOUR + 1)]);
  assert.equal((await e.timeline('bob'))[0], '03-02 05:00 journey_entered via signed_up');
  await e.close();
});

it('stop drains (users in flight finish, no one enters) or exits everyone at once', async () => {
  const { e, state } = await setup();
  await e.send([signup('cai', T0), signup('dan', T0)]);
  await state({ state: 'stopped', mode: 'drain' });
  await e.send([signup('eve', T0 + 1)]);
  await e.clock.advanceTo(T0 + 2 * HOUR);
  assert.equal((await e.timeline('cai')).at(-1), '03-02 03:00 journey_exited completed');
  assert.deepEqual(await e.timeline('eve'), []);

  await e.send([signup('cai', T0 + 2 * HOUR)]);
  assert.equal((await e.timeline('cai')).length, 7, 'a drained journey takes no new entries');
  e.publish({ journeys: [reminder] });
  await e.send([signup('dan', T0 + 2 * HOUR + 1)]);
  await state({ state: 'stopped', mode: 'exit' });
  assert.deepEqual((await e.timeline('dan')).slice(-2), [
    '03-02 04:00 journey_step later timer 2026-03-02T05:00:00.001Z',
    '03-02 04:00 journey_exited stopped',
  ]);
  await e.clock.advanceTo(T0 + 5 * HOUR);
  assert.equal(
    (await e.timeline('dan')).filter((l) => l.includes('message_sent sandbox:remind')).length,
    1,
    'no reminder after the stop',
  );
  await e.close();
});
