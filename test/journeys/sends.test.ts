import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import type { ChannelGateway, SendOutcome, SendRequest } from '../../ports/channel-gateway.ts';
import type { CommitResult, ProfileCommit } from '../../ports/store.ts';
import { PROFILE_CHECK_JOB, PROFILE_CHECKS_QUEUE } from '../../engine/jobs/checks.ts';
import { MAX_SEND_ATTEMPTS, recordSends } from '../../journeys/outbox.ts';
import type { OutboxMessage } from '../../model/journeys.ts';
import type { StoredEvent } from '../../model/events.ts';
import { newProfile } from '../../profiles/apply.ts';
import { journey, journeyEngine, track } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z');
const SEC = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const remind = journey(
  'remind',
  'signup',
  [
    { id: 'later', type: 'wait', duration: 'PT1H' },
    { id: 'hello', type: 'send', channel: 'sandbox', template: 'hello' },
  ],
  { holdout: { percent: 50 } },
);

/** Records what it was handed; answers from a script per attempt (default: the sandbox's answer). */
class ScriptedGateway implements ChannelGateway {
  readonly handed: SendRequest[] = [];
  readonly sandbox = new SandboxChannel();
  constructor(private readonly script: (attempt: number) => SendOutcome | Error | null = () => null) {}
  async send(request: SendRequest): Promise<SendOutcome> {
    this.handed.push(request);
    const answer = this.script(request.message.attempts + 1);
    if (answer instanceof Error) throw answer;
    return answer ?? this.sandbox.send(request);
  }
}

/** Users in and out of the holdout of `remind` (50%: hash of journey and user). */
async function treatedAndHeldOut(gateway: ChannelGateway) {
  const e = await journeyEngine({ journeys: [remind] }, T0, { gateway });
  const users = Array.from({ length: 8 }, (_, i) => `u${i}`);
  await e.send(users.map((u) => track(u, 'signup', T0)));
  await e.clock.advanceTo(T0 + HOUR + 10 * SEC);
  const held = new Set<string>();
  for (const u of users)
    if ((await e.log(u)).some((x) => x.event === 'journey_entered' && x.properties?.holdout)) held.add(u);
  return { e, users, held };
}

it('a send goes through the gateway after its commit: queued, then the status the gateway gave', async () => {
  const gateway = new ScriptedGateway();
  const { e, users, held } = await treatedAndHeldOut(gateway);
  assert.ok(held.size > 0 && held.size < users.length, 'both groups have users');
  for (const u of users.filter((x) => !held.has(x))) {
    assert.deepEqual(await e.timeline(u), [
      '03-02 02:00 journey_entered via signup',
      '03-02 02:00 journey_step later timer 2026-03-02T03:00:00.000Z',
      '03-02 03:00 journey_step hello reached',
      '03-02 03:00 message_sent sandbox:hello sandbox',
      '03-02 03:00 journey_exited completed',
    ]);
    const statuses = (await e.log(u)).filter((x) => x.event === 'message_sent');
    assert.equal(statuses[0].properties?.attempt, 1);
    // The raw history keeps both records: the decision (queued) and the gateway's answer.
    const raw = await e.store.recentEvents(`u:${u}`, 100);
    const sent = raw.find((x) => x.event === 'message_sent')!;
    const status = raw.find((x) => x.event === 'message_status')!;
    assert.equal(sent.properties?.status, 'queued');
    assert.equal(status.properties?.status, 'sandbox');
    assert.equal(status.properties?.messageId, sent.properties?.messageId);
    assert.ok(status.timestamp >= sent.timestamp);
  }
  // Exactly one hand-over per treated user, with the deterministic id and the user's profile.
  const treated = users.filter((x) => !held.has(x)).sort();
  assert.deepEqual(gateway.handed.map((r) => r.profile.userId).sort(), treated);
  for (const r of gateway.handed) {
    assert.equal(r.message.messageId, `remind:${r.message.enrollmentId.split(':')[1]}:hello:2`);
    assert.equal(r.message.channel, 'sandbox');
    assert.equal(r.message.template, 'hello');
    assert.equal(r.message.requestedAt, T0 + HOUR);
  }
  assert.deepEqual(
    gateway.sandbox
      .sent()
      .map((r) => r.userId)
      .sort(),
    treated,
  );
  // Held-out users walk as shadows: recorded, never handed to the gateway.
  for (const u of held) {
    const line = (await e.timeline(u)).find((l) => l.includes('message_sent'));
    assert.equal(line, '03-02 03:00 message_sent sandbox:hello shadow');
  }
  for (const u of users) {
    const profile = (await e.store.getProfiles([`u:${u}`])).get(`u:${u}`)!;
    assert.equal(profile.outbox, undefined, 'the outbox is empty once the gateway answered');
  }
  await e.close();
});

it('a gateway that throws is retried with backoff; the same message id each time; failed at the last attempt', async () => {
  const flaky = new ScriptedGateway((attempt) => (attempt <= 2 ? new Error('connection reset') : null));
  const { e, users, held } = await treatedAndHeldOut(flaky);
  await e.clock.advanceTo(T0 + HOUR + 2 * 60 * SEC);
  const u = users.find((x) => !held.has(x))!;
  const mine = flaky.handed.filter((r) => r.profile.userId === u);
  assert.equal(mine.length, 3);
  assert.equal(new Set(mine.map((r) => r.message.messageId)).size, 1);
  const statuses = (await e.store.recentEvents(`u:${u}`, 100))
    .filter((x) => x.event === 'message_status')
    .sort((a, b) => Number(a.properties?.attempt) - Number(b.properties?.attempt))
    .map((x) => `${x.properties?.attempt} ${x.properties?.status} ${x.properties?.reason ?? ''}`.trim());
  assert.deepEqual(statuses, ['1 retry connection reset', '2 retry connection reset', '3 sandbox']);
  await e.close();

  const down = new ScriptedGateway(() => new Error('provider down'));
  const d = await treatedAndHeldOut(down);
  await d.e.clock.advanceTo(T0 + DAY);
  const v = d.users.find((x) => !d.held.has(x))!;
  assert.equal(down.handed.filter((r) => r.profile.userId === v).length, MAX_SEND_ATTEMPTS);
  const line = (await d.e.timeline(v)).find((l) => l.includes('message_sent'));
  assert.match(line!, /message_sent sandbox:hello failed$/);
  assert.equal((await d.e.store.getProfiles([`u:${v}`])).get(`u:${v}`)!.outbox, undefined);
  await d.e.close();
});

/** A store whose next commit fails once armed: a worker that dies before its commit lands. */
class DyingStore extends MemoryStore {
  armed = false;
  override async commit(commits: readonly ProfileCommit[]): Promise<CommitResult> {
    if (this.armed) {
      this.armed = false;
      throw new Error('worker killed');
    }
    return super.commit(commits);
  }
}

it('a worker that dies after the gateway took the message hands the same id over again: recorded once', async () => {
  const store = new DyingStore({ eventRetentionMs: 400 * DAY, dedupeHorizonMs: 30 * DAY });
  const sandbox = new SandboxChannel();
  let calls = 0;
  const gateway: ChannelGateway = {
    async send(request) {
      calls++;
      if (calls === 1) store.armed = true; // the provider takes it; the commit after it never lands
      return sandbox.send(request);
    },
  };
  const e = await journeyEngine({ journeys: [{ ...remind, holdout: undefined }] }, T0, { gateway, store });
  await e.send([track('ann', 'signup', T0)]);
  await e.clock.advanceTo(T0 + HOUR + 10 * SEC);
  assert.equal(calls, 1);
  const stuck = (await store.getProfiles(['u:ann'])).get('u:ann')!;
  assert.equal(stuck.outbox?.length, 1, 'the message is still in the outbox');
  assert.match((await e.timeline('ann')).join('\n'), /message_sent sandbox:hello queued/);
  // The sweeper re-adds the overdue timer (here by hand, with its due time).
  await e.scheduler.add(PROFILE_CHECKS_QUEUE, PROFILE_CHECK_JOB, { key: 'u:ann', at: stuck.checkAt });
  await e.clock.advance(SEC);
  assert.equal(calls, 2);
  assert.equal(sandbox.sent().length, 1, 'the sandbox recorded the message once');
  const statuses = (await store.recentEvents('u:ann', 100)).filter((x) => x.event === 'message_status');
  assert.equal(statuses.length, 1);
  assert.match((await e.timeline('ann')).join('\n'), /message_sent sandbox:hello sandbox/);
  await e.close();
});

it('an outcome is recorded only on the message as it was handed over: each status change once', () => {
  const message: OutboxMessage = {
    messageId: 'j:t:hello:1',
    journeyId: 'j',
    enrollmentId: 'j:t',
    version: 1,
    step: 'hello',
    channel: 'sms',
    template: 'hello',
    trigger: { messageId: 't', at: T0 },
    requestedAt: T0,
    attempts: 0,
    dueAt: T0,
  };
  const profile = { ...newProfile('u:ann', 'ann'), outbox: [message] };
  const round = (outcome: SendOutcome, handed: OutboxMessage) =>
    new Map([[`${handed.messageId}#${handed.attempts + 1}`, { outcome, dueAt: handed.dueAt }]]);
  const paused: SendOutcome = { status: 'deferred', reason: 'channel_paused', retryAt: T0 + 300 * SEC };
  const statuses = (log: StoredEvent[]) =>
    log.map((e) => `${e.event} ${e.properties?.status ?? ''} ${e.properties?.reason}`);

  // Another hand-over holds the claim: nothing to record, the message is left as it is.
  assert.deepEqual(recordSends(profile, round({ status: 'busy' }, message), T0), []);
  assert.deepEqual(profile.outbox, [message]);
  // Two workers deferred the same round: the first one's deferral is recorded, the other's is stale.
  assert.deepEqual(statuses(recordSends(profile, round(paused, message), T0)), [
    'message_status deferred channel_paused',
  ]);
  assert.deepEqual(recordSends(profile, round(paused, message), T0), []);
  // Paused again at the next round: no change, nothing logged; the message waits on.
  const again = profile.outbox[0];
  const later = { ...paused, retryAt: T0 + 600 * SEC };
  assert.deepEqual(recordSends(profile, round(later, again), T0 + 300 * SEC), []);
  assert.equal(profile.outbox[0].dueAt, T0 + 600 * SEC);
  // The claim holder's answer of that round lands whatever was deferred meanwhile: a skip, as the walk logs one.
  const log = recordSends(
    profile,
    round({ status: 'skipped', reason: 'frequency_capped' }, message),
    T0 + 600 * SEC,
  );
  assert.deepEqual(statuses(log), ['message_skipped  frequency_capped']);
  assert.ok(log[0].timestamp >= T0 + 600 * SEC, 'stamped after the deferrals: the latest status reads last');
  assert.equal(profile.outbox, undefined);
});
