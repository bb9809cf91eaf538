import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  JOURNEY_SCHEDULE_JOB,
  JOURNEY_SCHEDULE_QUEUE,
  journeyScheduleId,
  runScheduledJourney,
} from '../../engine/jobs/journey-schedule.ts';
import { silentLogger } from '../../ports/logger.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import type { SegmentDefinition } from '../../segments/segment.ts';
import { Workspace } from '../../workspace/workspace.ts';
import { journeyEngine } from './helpers.ts';

const T0 = Date.parse('2026-03-13T12:00:00Z');
const DAY = 86_400_000;

const everyone: SegmentDefinition = {
  id: 'known',
  version: 1,
  name: 'Known users',
  condition: { all: [{ fact: 'profile', path: '$.userId', operator: 'notEqual', value: null }] },
};

const birthday: JourneyDefinition = {
  id: 'birthday',
  version: 1,
  name: 'Birthday greeting',
  trigger: {
    type: 'schedule',
    cron: '0 9 * * *',
    tz: 'Asia/Shanghai',
    where: { fact: 'profile', path: '$.traits.birthday', operator: 'anniversaryToday', value: true },
  },
  audience: { segment: 'known' },
  entry: { reentry: 'anytime', minInterval: 'P300D' },
  steps: [{ id: 'greet', type: 'send', channel: 'sandbox', template: 'birthday' }],
};

it('a schedule enrols the audience members its condition holds for, at 09:00 Shanghai, once per firing', async () => {
  const e = await journeyEngine({ journeys: [birthday], segments: [everyone] }, T0);
  const user = (userId: string, born: string, timezone: string) => ({
    type: 'identify',
    userId,
    traits: { birthday: born, timezone },
    timestamp: new Date(T0).toISOString(),
  });
  await e.send([
    user('mei', '1990-03-14', 'Asia/Shanghai'),
    user('tom', '1990-03-15', 'America/Los_Angeles'),
    user('ivy', '1992-07-01', 'Asia/Shanghai'),
    { type: 'track', anonymousId: 'visitor', event: 'page_viewed', timestamp: new Date(T0).toISOString() },
  ]);
  await e.scheduler.repeat(
    JOURNEY_SCHEDULE_QUEUE,
    journeyScheduleId('birthday'),
    { cron: '0 9 * * *', tz: 'Asia/Shanghai' },
    JOURNEY_SCHEDULE_JOB,
    { journeyId: 'birthday' },
  );
  // 09:00 on 14 March in Shanghai is 01:00 UTC: Mei's birthday; in Los Angeles it is still 13 March.
  await e.clock.advanceTo(Date.parse('2026-03-14T01:00:01Z'));
  assert.deepEqual(await e.timeline('mei'), [
    '03-14 01:00 journey_entered via journey_scheduled',
    '03-14 01:00 message_sent sandbox:birthday sandbox',
    '03-14 01:00 journey_exited completed',
  ]);
  assert.deepEqual(await e.timeline('tom'), []);
  // The next firing (15 March 01:00 UTC) is 14 March 18:00 in Los Angeles: not yet Tom's day.
  await e.clock.advanceTo(Date.parse('2026-03-15T01:00:01Z'));
  assert.deepEqual(await e.timeline('tom'), []);
  await e.clock.advanceTo(Date.parse('2026-03-16T01:00:01Z'));
  assert.deepEqual(await e.timeline('tom'), [
    '03-16 01:00 journey_entered via journey_scheduled',
    '03-16 01:00 message_sent sandbox:birthday sandbox',
    '03-16 01:00 journey_exited completed',
  ]);
  assert.deepEqual(await e.timeline('ivy'), []);

  // Running the same firing again (a second scheduler, a retried job) enrols nobody twice.
  const workspace = new Workspace({ journeys: [birthday], segments: [everyone], timezone: 'UTC' });
  const again = await runScheduledJourney(e.store, 'birthday', Date.parse('2026-03-14T01:00:00Z'), {
    workspace,
    now: () => e.clock.now(),
    lateGraceMs: 86_400_000,
    scheduleChecks: async () => {},
    logger: silentLogger,
  });
  assert.deepEqual(again, { audience: 3, entered: 0 });
  assert.equal((await e.timeline('mei')).length, 3);
  await e.clock.advanceTo(T0 + 3 * DAY);
  await e.close();
});

it('the simulator fires scheduled journeys on its virtual clock', async () => {
  const { simulate } = await import('../../engine/simulation/simulate.ts');
  const result = await simulate({
    journeys: [birthday],
    segments: [everyone],
    messages: [
      {
        type: 'identify',
        userId: 'mei',
        traits: { birthday: '1990-03-14', timezone: 'Asia/Shanghai' },
        timestamp: '2026-03-13T12:00:00Z',
      },
      {
        type: 'identify',
        userId: 'ivy',
        traits: { birthday: '1992-07-01', timezone: 'Asia/Shanghai' },
        timestamp: '2026-03-13T12:00:00Z',
      },
    ],
    to: Date.parse('2026-03-15T00:00:00Z'),
  });
  assert.equal(result.journeys.birthday.entered, 1);
  assert.deepEqual(result.timelines.mei, [
    '03-14 01:00 journey_entered via journey_scheduled',
    '03-14 01:00 message_sent sandbox:birthday sandbox',
    '03-14 01:00 journey_exited completed',
  ]);
});
