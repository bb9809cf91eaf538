/**
 * The template editor's API: a preview rendered for a user or the sample with the channel's limits,
 * and test sends through the configured providers (a real SMTP server, the Aliyun SMS fake) that
 * no report counts and no cap holds against the user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_WORKSPACE } from '../../cli/config.ts';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';
import { aliyunSmsEnv, type AliyunSmsFake, startAliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { type FakeSmtp, startSmtpServer } from '../../dev/fakes/smtp.ts';

const USER = 'tpl-user-1';
const PHONE = '13912345678';

describe('template preview and test send', () => {
  let t: TestEngine;
  let smtp: FakeSmtp;
  let sms: AliyunSmsFake;
  const saved: Record<string, string | undefined> = {};

  const manage = (path: string, body: unknown) => t.request('POST', path, { key: KEYS.admin, body });

  before(async () => {
    [smtp, sms] = await Promise.all([startSmtpServer({ auth: false }), startAliyunSmsFake()]);
    // The demo's channels.json reads these: SMTP and Aliyun SMS configured, the rest in the sandbox.
    const env = {
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      SMTP_IGNORE_TLS: 'true',
      ...aliyunSmsEnv(sms),
    };
    for (const [name, value] of Object.entries(env)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    t = await startTestEngine({ workspaceDir: DEMO_WORKSPACE });
    const identify = {
      type: 'identify',
      userId: USER,
      traits: { name: '李雷', email: 'lilei@example.com', phone: PHONE },
    };
    assert.equal((await t.request('POST', '/v1/batch', { body: { batch: [identify] } })).status, 200);
    await t.settle();
  });

  after(async () => {
    await t?.close();
    await Promise.all([smtp?.close(), sms?.close()]);
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("previews a saved template for a user, with the sender and the subject's length", async () => {
    const res = await manage('/v1/templates/preview', { templateId: 'welcome_email', userId: USER });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.source, { kind: 'user', userId: USER });
    assert.equal(res.body.message.subject, '欢迎来到潮汐优选，李雷');
    assert.match(res.body.message.html, /李雷，欢迎加入/);
    assert.equal(res.body.message.from, '潮汐优选 <hello@shop.example.com>');
    const subject = res.body.measures.find((m: { kind: string }) => m.kind === 'subject');
    assert.equal(subject.value, [...'欢迎来到潮汐优选，李雷'].length);
  });

  it('previews a draft with its sample, counting SMS segments with the signature', async () => {
    const text = '{{ profile.traits.name | default: "亲" }}，您的订单已发货。'.repeat(4);
    const draft = {
      id: 'draft_sms',
      version: 1,
      name: 'Draft',
      channel: 'sms',
      content: { signName: '潮汐优选', templateCode: 'SMS_1', params: {}, text },
      sample: { profile: { traits: { name: '王小明' } } },
    };
    const res = await manage('/v1/templates/preview', { template: draft });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.source, { kind: 'sample' });
    const shown = `【潮汐优选】${'王小明，您的订单已发货。'.repeat(4)}`;
    assert.deepEqual(res.body.measures[0], {
      pointer: '/text',
      kind: 'sms',
      value: [...shown].length,
      unit: 'characters',
      limit: 500,
      segments: Math.ceil([...shown].length / 67),
    });
  });

  it('names the variable a user cannot fill (422), and points at bad input (400)', async () => {
    const required = {
      id: 'needs_city',
      version: 1,
      name: 'Needs a city',
      channel: 'email',
      content: { subject: 'Hi', text: 'Stores in {{ profile.traits.city | required }}' },
    };
    const failed = await manage('/v1/templates/preview', { template: required, userId: USER });
    assert.equal(failed.status, 422);
    assert.equal(failed.body.error, 'render_failed');
    assert.equal(failed.body.errors[0].pointer, '/template/content/text');
    assert.match(failed.body.message, /profile\.traits\.city is required/);

    const noAddress = await manage('/v1/templates/test-send', { templateId: 'welcome_email' });
    assert.equal(noAddress.status, 400);
    assert.equal(noAddress.body.errors[0].pointer, '/to');

    const badPhone = await manage('/v1/templates/test-send', {
      templateId: 'cart_reminder_sms',
      to: 'call me',
    });
    assert.equal(badPhone.status, 400);
    assert.equal(badPhone.body.errors[0].pointer, '/to');

    const unknown = await manage('/v1/templates/preview', {
      templateId: 'welcome_email',
      userId: 'nobody-here',
    });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.errors[0].pointer, '/userId');

    const invalid = await manage('/v1/templates/preview', { template: { ...required, channel: 'fax' } });
    assert.equal(invalid.status, 400);
    assert.ok(invalid.body.errors.some((f: { pointer: string }) => f.pointer.startsWith('/template/')));

    const readOnly = await t.request('POST', '/v1/templates/preview', {
      key: KEYS.read,
      body: { templateId: 'welcome_email' },
    });
    assert.equal(readOnly.status, 403);
  });

  it('test-sends an email through SMTP, marked as a test', async () => {
    const res = await manage('/v1/templates/test-send', {
      templateId: 'welcome_email',
      userId: USER,
      to: 'marketer@shop.example.com',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'sent');
    assert.equal(res.body.provider, 'smtp');
    await waitFor(async () => smtp.inbox.length > 0, 10_000, 'the test email');
    const [received] = smtp.inbox;
    assert.deepEqual(received.envelope.to, ['marketer@shop.example.com']);
    assert.equal(received.mail.subject, '[Test] 欢迎来到潮汐优选，李雷');
    assert.match(String(received.mail.html), /李雷，欢迎加入潮汐优选/);
  });

  it('test-sends SMS to the Aliyun fake, uncapped and uncounted', async () => {
    const before = await t.request('GET', '/v1/reports/journeys');
    // The demo caps SMS at 2 a day per user: three tests with the user's own data all go.
    for (let i = 0; i < 3; i++) {
      const res = await manage('/v1/templates/test-send', {
        templateId: 'cart_reminder_sms',
        userId: USER,
        to: `+86 ${PHONE}`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'sent');
      assert.equal(res.body.provider, 'aliyun-sms');
    }
    const taken = sms.accepted.filter((m) => m.phone === PHONE);
    assert.equal(taken.length, 3);
    assert.deepEqual(taken[0].params, { name: '李雷' });
    assert.equal(taken[0].templateCode, 'SMS_468120001');
    assert.ok(taken.every((m) => m.outId?.startsWith('test-')));

    const afterwards = await t.request('GET', '/v1/reports/journeys');
    assert.deepEqual(afterwards.body, before.body, 'no report moved');
    const journeys = await t.request('GET', `/v1/users/${USER}/journeys`);
    const logged = JSON.stringify(journeys.body);
    assert.ok(!logged.includes('test-'), 'no test message in the user’s journeys');
  });

  it('answers sandbox for a channel without a provider, with what it would send', async () => {
    const res = await manage('/v1/templates/test-send', {
      templateId: 'first_order_push',
      to: 'device-token-0123456789',
      device: { provider: 'fcm', platform: 'android' },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'sandbox');
    assert.equal(typeof res.body.message.title, 'string');
  });
});
