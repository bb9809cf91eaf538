import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';

const template = {
  id: 'hello',
  name: 'Hello',
  channel: 'sandbox',
  content: { text: 'Hello {{ profile.traits.name }}' },
};
const journey = {
  id: 'hello_again',
  name: 'Hello, then hello again',
  trigger: { type: 'event', event: 'signed_up' },
  steps: [
    { id: 'hello', type: 'send', channel: 'sandbox', template: 'hello' },
    { id: 'pause', type: 'wait', duration: 'PT1S' },
    { id: 'again', type: 'send', channel: 'sandbox', template: 'hello' },
  ],
};

describe('journeys over the API: publish, execution logs, dry run', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine();
  });
  after(() => t.close());

  it('rejects a journey naming an unknown template with its pointer, and saves nothing', async () => {
    const res = await t.request('POST', '/v1/journeys', { key: KEYS.admin, body: journey });
    assert.equal(res.status, 400);
    assert.deepEqual(
      res.body.errors.map((e: { pointer: string }) => e.pointer),
      ['/steps/0/template', '/steps/2/template'],
    );
    assert.deepEqual((await t.request('GET', '/v1/journeys')).body.journeys, []);
  });

  it('a published journey walks users in real time; both logs show every decision', async () => {
    assert.equal((await t.request('POST', '/v1/templates', { key: KEYS.admin, body: template })).status, 201);
    await t.request('POST', '/v1/templates/hello/versions/1/publish', { key: KEYS.admin });
    assert.equal((await t.request('POST', '/v1/journeys', { key: KEYS.admin, body: journey })).status, 201);
    const published = await t.request('POST', '/v1/journeys/hello_again/versions/1/publish', {
      key: KEYS.admin,
    });
    assert.equal(published.status, 200);
    assert.equal(published.body.recompute, undefined, 'a journey changes no profile');

    await t.request('POST', '/v1/track', { body: { userId: 'j-1', event: 'signed_up' } });
    await waitFor(
      async () => {
        const { body } = await t.request('GET', '/v1/users/j-1/journeys');
        return body.journeys[0]?.enrollments[0]?.state === 'exited';
      },
      10_000,
      'the journey to finish',
    );
    const { body } = await t.request('GET', '/v1/users/j-1/journeys');
    const [enrollment] = body.journeys[0].enrollments;
    assert.equal(enrollment.exitReason, 'completed');
    assert.deepEqual(
      enrollment.log.map((d: { event: string; action?: string; step: string }) =>
        `${d.event} ${d.step} ${d.action ?? ''}`.trim(),
      ),
      [
        'journey_entered hello',
        'message_sent hello send',
        'journey_step pause reached',
        'journey_step pause timer',
        'journey_step again reached',
        'message_sent again send',
        'journey_exited again',
      ],
    );
    const sent = enrollment.log.filter((d: { event: string }) => d.event === 'message_sent');
    assert.ok(Date.parse(sent[1].at) - Date.parse(sent[0].at) >= 1000, 'the wait took its second');

    const list = await t.request('GET', '/v1/journeys/hello_again/enrollments');
    assert.deepEqual(list.body.users, { entered: 1, active: 0 });
    assert.equal(list.body.enrollments[0].user.userId, 'j-1');
    assert.equal(list.body.enrollments[0].log.length, 7);
    assert.equal((await t.request('GET', '/v1/journeys/hello_again/enrollments?state=nope')).status, 400);
  });

  it('pause, resume and stop are audited state changes; bad ones are refused', async () => {
    const post = (path: string, body?: object) =>
      t.request('POST', path, { key: KEYS.admin, body: body ?? {} });
    assert.equal((await post('/v1/journeys/nothing/pause')).status, 404);
    const paused = await post('/v1/journeys/hello_again/pause');
    assert.equal(paused.status, 200);
    assert.equal(paused.body.state, 'paused');
    await t.request('POST', '/v1/track', { body: { userId: 'j-2', event: 'signed_up' } });
    await t.settle();
    assert.deepEqual(
      (await t.request('GET', '/v1/users/j-2/journeys')).body.journeys,
      [],
      'no entry while paused',
    );
    const resumed = await post('/v1/journeys/hello_again/resume');
    assert.equal(resumed.body.state, 'running');
    assert.match(resumed.body.job, /^journey-state-hello_again-2$/);
    const bad = await post('/v1/journeys/hello_again/stop', { mode: 'later' });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.errors.map((e: { pointer: string }) => e.pointer),
      ['/mode'],
    );
    assert.equal((await post('/v1/journeys/hello_again/stop', { mode: 'exit' })).body.state, 'stopped');
    assert.equal((await post('/v1/journeys/hello_again/resume')).status, 409);
  });

  it('dry-runs a journey on a stream in the body and stores nothing', async () => {
    const at = (min: number) => new Date(Date.parse('2026-01-05T08:00:00Z') + min * 60_000).toISOString();
    const res = await t.request('POST', '/v1/journeys/simulate', {
      key: KEYS.admin,
      body: {
        journey: {
          ...journey,
          id: 'dry',
          steps: [
            ...journey.steps.slice(0, 1),
            { id: 'pause', type: 'wait', duration: 'P1D' },
            journey.steps[2],
          ],
        },
        messages: [
          { type: 'track', userId: 'sim-1', event: 'signed_up', timestamp: at(0) },
          { type: 'track', userId: 'sim-2', event: 'signed_up', timestamp: at(5) },
          { type: 'track', userId: 'sim-2', event: 'other', timestamp: at(6) },
        ],
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.journeys.dry.entered, 2);
    assert.deepEqual(res.body.journeys.dry.sends, { 'again/sandbox': 2, 'hello/sandbox': 2 });
    assert.deepEqual(res.body.timelines['sim-1'].slice(-2), [
      '01-06 08:00 message_sent sandbox:hello sandbox',
      '01-06 08:00 journey_exited completed',
    ]);
    assert.equal((await t.request('GET', '/v1/users/sim-1')).status, 404, 'a dry run stores nothing');

    const bad = await t.request('POST', '/v1/journeys/simulate', {
      key: KEYS.admin,
      body: {
        journey: { ...journey, steps: [] },
        messages: [{ type: 'track', userId: 'x', timestamp: at(0) }],
      },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.errors.map((e: { pointer: string }) => e.pointer),
      ['/journey/steps'],
    );
    const badMessage = await t.request('POST', '/v1/journeys/simulate', {
      key: KEYS.admin,
      body: { journey, messages: [{ type: 'track', userId: 'x', timestamp: at(0) }] },
    });
    assert.deepEqual(
      badMessage.body.errors.map((e: { pointer: string }) => e.pointer),
      ['/messages/0/event'],
    );
  });
});

it('tideline simulate prints totals and timelines, and exits 1 with every fault of a bad journey', () => {
  const out = execFileSync(
    'node',
    [
      'bin/tideline.mjs',
      'simulate',
      '--journey',
      'fixtures/workspace/journeys/cart_abandonment.json',
      '--events',
      'fixtures/sample-events.ndjson',
      '--users',
      '1',
      '--to',
      '2026-10-20T00:00:00Z',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  assert.match(out, /^Replayed [\d,]+ messages of \d+ users/);
  assert.match(out, /cart_abandonment\n {2}entered {2}\d+ \(holdout 0\)/);
  assert.match(out, /journey_entered via cart_add/);
  let failed: { status: number; stderr: string } | null = null;
  try {
    execFileSync(
      'node',
      [
        'bin/tideline.mjs',
        'simulate',
        '--journey',
        'test/journeys/fixtures/broken.json',
        '--events',
        'fixtures/sample-events.ndjson',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    failed = error as { status: number; stderr: string };
  }
  assert.equal(failed?.status, 1);
  assert.match(failed?.stderr ?? '', /broken.json:6:66: \/steps\/0\/next: step 'first': no step 'nowhere'/);
});
