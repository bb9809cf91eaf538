import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AliyunSmsProvider } from '../../channels/aliyun-sms/provider.ts';
import { smsReportFacts } from '../../channels/aliyun-sms/receipts.ts';
import { DEFAULT_POLICY } from '../../channels/config.ts';
import { Dispatcher } from '../../channels/dispatcher.ts';
import { applyInbound } from '../../channels/inbound.ts';
import { LinkSigner } from '../../channels/links.ts';
import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import { MemoryChannelState } from '../../engine/adapters/channel-state/memory.ts';
import { silentLogger } from '../../ports/logger.ts';
import { startAliyunSmsFake, type AliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { makeProfile } from '../../dev/profiles.ts';
import type { OutboxMessage } from '../../model/journeys.ts';
import type { TemplateDefinition } from '../../templates/template.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z');

const template: TemplateDefinition = {
  id: 'promo',
  version: 1,
  name: 'Promo',
  channel: 'sms',
  content: {
    signName: '潮汐优选',
    templateCode: 'SMS_9',
    params: { name: '{{ profile.traits.firstName }}' },
  },
};

const message = (i: number, attempts = 0): OutboxMessage => ({
  messageId: `promo:u${i}:send:1`,
  journeyId: 'promo',
  enrollmentId: `promo:u${i}`,
  version: 1,
  step: 'send',
  channel: 'sms',
  template: 'promo',
  trigger: { messageId: `t${i}`, at: T0 },
  requestedAt: T0,
  attempts,
  dueAt: T0,
});

/** User i's number: `1380000` + four digits (the fake scripts numbers by their last four). */
const phone = (i: number, lastFour?: string) => `1380000${lastFour ?? String(5000 + i)}`;
const user = (i: number, lastFour?: string) =>
  makeProfile(`u:u${i}`, { traits: { firstName: `U${i}`, phone: phone(i, lastFour) } });

describe('SMS sent together go as Aliyun batches', () => {
  let fake: AliyunSmsFake;
  before(async () => {
    fake = await startAliyunSmsFake({ slowAnswerMs: 600 });
  });
  after(() => fake.close());

  const setup = () => {
    const state = new MemoryChannelState();
    const clock = { now: T0 };
    const sms = new AliyunSmsProvider({
      accessKeyId: fake.accessKeyId,
      accessKeySecret: fake.accessKeySecret,
      endpoint: fake.endpoint,
      protocol: 'http',
      connectTimeout: 300,
      readTimeout: 300,
    });
    const dispatcher = new Dispatcher({
      state,
      providers: { sms },
      policy: { ...DEFAULT_POLICY, promotionalSmsHours: null },
      templates: () => template,
      links: new LinkSigner('https://t.example.com', 's'),
      sandbox: new SandboxChannel(),
      logger: silentLogger,
      timezone: 'Asia/Shanghai',
      now: () => clock.now,
    });
    return { state, clock, dispatcher };
  };

  it('sends 30 concurrent messages of one template in one call, and files each receipt under its message', async () => {
    const { state, dispatcher } = setup();
    const before = fake.accepted.length;
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => dispatcher.send({ message: message(i), profile: user(i) })),
    );
    assert.ok(outcomes.every((o) => o.status === 'sent'));
    const taken = fake.accepted.slice(before);
    assert.equal(taken.length, 30);
    assert.equal(new Set(taken.map((t) => t.outId)).size, 1, 'one batch, one OutId');
    assert.match(taken[0].outId!, /^b[0-9a-f]{24}$/);
    assert.deepEqual(taken[3].params, { name: 'U3' });
    const record = await state.record('promo:u3:send:1');
    assert.equal(record?.batchId, taken[0].outId);
    // Receipts of a batch name the batch's OutId and BizId, and the number.
    const report = taken.slice(0, 2).map((t) => ({
      phone_number: t.phone,
      send_time: '2026-03-02 10:00:00',
      report_time: '2026-03-02 10:00:03',
      success: true,
      err_code: 'DELIVERED',
      err_msg: '用户接收成功',
      sms_size: '1',
      biz_id: t.bizId,
      out_id: t.outId,
    }));
    const ingested: string[] = [];
    const summary = await applyInbound(smsReportFacts(report), {
      state,
      ingestor: { accept: async (m) => void ingested.push(...m.map((x) => String(x.properties?.messageId))) },
      now: () => T0,
    });
    assert.deepEqual(summary, { applied: 2, duplicates: 0, unmatched: 0 });
    const numbered = taken.slice(0, 2).map((t) => `promo:u${Number(t.phone.slice(-4)) - 5000}:send:1`);
    assert.deepEqual(ingested, numbered);
  });

  it('sends a refused batch again one by one: only the bad number fails and is suppressed', async () => {
    const { state, dispatcher } = setup();
    const before = fake.accepted.length;
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        dispatcher.send({ message: message(100 + i), profile: user(100 + i, i === 4 ? '0001' : undefined) }),
      ),
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['sent', 'sent', 'sent', 'sent', 'failed', 'sent', 'sent', 'sent', 'sent', 'sent'],
    );
    assert.equal(fake.accepted.length - before, 9);
    assert.equal(
      (await state.suppressed('sms', phone(104, '0001')))?.reason,
      'aliyun-sms:isv.MOBILE_NUMBER_ILLEGAL',
    );
    assert.equal(await state.suppressed('sms', phone(105)), null);
  });

  it('reconciles a batch whose answer was lost by its OutId: no message goes twice', async () => {
    const { state, clock, dispatcher } = setup();
    const before = fake.accepted.length;
    // ...0004: the fake takes the batch, then answers after the client gave up.
    const users = Array.from({ length: 5 }, (_, i) => user(200 + i, i === 0 ? '0004' : undefined));
    const first = await Promise.all(
      users.map((u, i) => dispatcher.send({ message: message(200 + i), profile: u })),
    );
    assert.ok(first.every((o) => o.status === 'retry' && o.reason === 'unknown_outcome'));
    assert.equal(fake.accepted.length - before, 5);
    await new Promise((r) => setTimeout(r, 700));
    clock.now += 31_000;
    const second = await Promise.all(
      users.map((u, i) => dispatcher.send({ message: message(200 + i, 1), profile: u })),
    );
    assert.ok(
      second.every((o) => o.status === 'sent'),
      JSON.stringify(second),
    );
    assert.equal(fake.accepted.length - before, 5, 'found by the batch OutId, not sent again');
    assert.equal((await state.record('promo:u200:send:1'))?.status, 'sent');
  });
});
