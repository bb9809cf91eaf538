import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AliyunSmsProvider } from '../../channels/aliyun-sms/provider.ts';
import { smsReportFacts } from '../../channels/aliyun-sms/receipts.ts';
import { DEFAULT_POLICY } from '../../channels/config.ts';
import { Dispatcher } from '../../channels/dispatcher.ts';
import { applyInbound } from '../../channels/inbound.ts';
import { LinkSigner } from '../../channels/links.ts';
import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import { SmtpProvider } from '../../channels/smtp/provider.ts';
import { MemoryChannelState } from '../../engine/adapters/channel-state/memory.ts';
import { silentLogger } from '../../ports/logger.ts';
import { startAliyunSmsFake, type AliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { startSmtpServer, type FakeSmtp } from '../../dev/fakes/smtp.ts';
import { identify, journey, journeyEngine, track } from '../journeys/helpers.ts';
import type { InboundMessage } from '../../model/events.ts';
import { INGEST_JOB, INGEST_QUEUE } from '../../engine/ingest/ingest-queue.ts';
import type { TemplateDefinition } from '../../templates/template.ts';

// 10:00 in Shanghai.
const T0 = Date.parse('2026-03-02T02:00:00Z');
const HOUR = 3_600_000;

const templates: TemplateDefinition[] = [
  {
    id: 'cart_sms',
    version: 1,
    name: 'Cart SMS',
    channel: 'sms',
    content: {
      signName: '潮汐优选',
      templateCode: 'SMS_468120001',
      params: { name: '{{ profile.traits.name }}', item: '{{ event.properties.title }}' },
      text: '【潮汐优选】{{ profile.traits.name }}，您购物车里的{{ event.properties.title }}还在等您。拒收请回复R',
    },
  },
  {
    id: 'cart_email',
    version: 1,
    name: 'Cart email',
    channel: 'email',
    content: {
      subject: '{{ profile.traits.name }}, your cart is waiting',
      html: '<p>Still thinking about {{ event.properties.title }}? <a href="{{ "https://shop.example.com/cart" | track }}">Back to your cart</a></p>',
    },
  },
];

const cart = journey('cart', 'cart_add', [
  { id: 'sms', type: 'send', channel: 'sms', template: 'cart_sms' },
  { id: 'later', type: 'wait', duration: 'PT1H' },
  { id: 'email', type: 'send', channel: 'email', template: 'cart_email' },
]);

describe('journeys send through the real adapters to their fakes', () => {
  let aliyun: AliyunSmsFake;
  let smtp: FakeSmtp;
  before(async () => {
    aliyun = await startAliyunSmsFake();
    smtp = await startSmtpServer();
  });
  after(async () => {
    await aliyun.close();
    await smtp.close();
  });

  it('sends the SMS and the email once each, records them, and takes the SMS receipt', async () => {
    const state = new MemoryChannelState();
    const sms = new AliyunSmsProvider({
      accessKeyId: aliyun.accessKeyId,
      accessKeySecret: aliyun.accessKeySecret,
      endpoint: aliyun.endpoint,
      protocol: 'http',
    });
    const email = new SmtpProvider({
      host: smtp.host,
      port: smtp.port,
      ignoreTLS: true,
      auth: { user: 'u', pass: 'p' },
    });
    const links = new LinkSigner('https://t.example.com', 'secret');
    // eslint-disable-next-line prefer-const -- the dispatcher's callbacks read the engine made after it
    let engine!: Awaited<ReturnType<typeof journeyEngine>>;
    const dispatcher = new Dispatcher({
      state,
      providers: { sms, email },
      policy: DEFAULT_POLICY,
      templates: (id) => templates.find((t) => t.id === id),
      triggerEvent: async (key, trigger) =>
        (await engine.store.recentEvents(key, 100, trigger.at)).find(
          (e) => e.messageId === trigger.messageId,
        ) ?? null,
      links,
      sandbox: new SandboxChannel(),
      logger: silentLogger,
      emailFrom: 'Tideline Shop <shop@example.com>',
      timezone: 'Asia/Shanghai',
      now: () => engine.clock.now(),
    });
    engine = await journeyEngine({ journeys: [cart], templates }, T0, { gateway: dispatcher });
    try {
      await engine.send([
        identify(
          'ann',
          {
            name: '安',
            phone: '+86 138 0013 8000',
            email: 'ann@example.com',
            consent: { sms: true, email: true },
          },
          T0 - HOUR,
        ),
        track('ann', 'cart_add', T0, { title: '羊毛围巾' }),
      ]);
      await engine.clock.advance(1000);
      assert.equal(aliyun.accepted.length, 1);
      const [accepted] = aliyun.accepted;
      assert.equal(accepted.phone, '13800138000');

      assert.deepEqual(accepted.params, { name: '安', item: '羊毛围巾' });

      await engine.clock.advance(HOUR + 1000);
      assert.equal(smtp.inbox.length, 1);
      const mail = smtp.inbox[0].mail;
      assert.equal(mail.subject, '安, your cart is waiting');
      assert.match(String(mail.html), /href="https:\/\/t\.example\.com\/c\/[^"]+"/);
      const unsubscribe = mail.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '';
      assert.match(unsubscribe, /^List-Unsubscribe:\s+<https:\/\/t\.example\.com\/u\/[^>]+>$/);

      const sent = (await engine.log('ann')).filter((e) => e.event === 'message_sent');
      assert.deepEqual(
        sent.map((e) => [e.properties?.channel, e.properties?.status]),
        [
          ['sms', 'sent'],
          ['email', 'sent'],
        ],
      );
      const smsId = String(sent[0].properties?.messageId);
      assert.equal(accepted.outId, smsId, 'OutId is our message id');
      const record = await state.record(smsId);
      assert.equal(record?.status, 'sent');
      assert.equal(record?.provider, 'aliyun-sms');
      assert.equal(record?.segments, 1);

      // Aliyun pushes the receipt (twice, as it retries): the record and the user's history get it once.
      const report = [
        {
          phone_number: '13800138000',
          send_time: '2026-03-02 10:00:01',
          report_time: '2026-03-02 10:00:05',
          success: true,
          err_code: 'DELIVERED',
          err_msg: '用户接收成功',
          sms_size: '1',
          biz_id: record!.providerId,
          out_id: smsId,
        },
      ];
      const ingestor = {
        accept: async (messages: InboundMessage[]) => {
          await engine.scheduler.add(INGEST_QUEUE, INGEST_JOB, { messages });
        },
      };
      const deps = { state, ingestor, now: () => engine.clock.now() };
      assert.deepEqual(await applyInbound(smsReportFacts(report), deps), {
        applied: 1,
        duplicates: 0,
        unmatched: 0,
      });
      assert.deepEqual(await applyInbound(smsReportFacts(report), deps), {
        applied: 0,
        duplicates: 1,
        unmatched: 0,
      });
      await engine.clock.advance(1000);
      assert.equal((await state.record(smsId))?.deliveryCode, 'DELIVERED');
      const delivered = (await engine.store.recentEvents('u:ann', 100)).filter(
        (e) => e.event === 'message_delivered',
      );
      assert.equal(delivered.length, 1);
      assert.equal(delivered[0].properties?.messageId, smsId);
    } finally {
      await engine.close();
      await email.close();
    }
  });
});
