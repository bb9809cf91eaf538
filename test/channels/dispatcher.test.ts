import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DEFAULT_POLICY, type SendPolicy } from '../../channels/config.ts';
import { Dispatcher, type Providers, type SandboxAddresses } from '../../channels/dispatcher.ts';
import { creditKey } from '../../channels/policy.ts';
import { LinkSigner } from '../../channels/links.ts';
import type { ChannelProvider, Delivery, ProviderResult, SmsMessage } from '../../channels/provider.ts';
import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import { MemoryChannelState } from '../../engine/adapters/channel-state/memory.ts';
import { RedisChannelState } from '../../engine/adapters/channel-state/redis.ts';
import type { ChannelState } from '../../ports/channel-state.ts';
import type { Profile } from '../../model/profile.ts';
import { makeProfile } from '../../dev/profiles.ts';
import type { OutboxMessage } from '../../model/journeys.ts';
import type { TemplateDefinition } from '../../templates/template.ts';

// 10:00 in Shanghai, 21:00 the day before in New York.
const T0 = Date.parse('2026-03-02T02:00:00Z');
const HOUR = 3_600_000;

const silent = { info() {}, warn() {}, error() {}, debug() {} } as never;

const templates: Record<string, TemplateDefinition> = {
  reminder: {
    id: 'reminder',
    version: 1,
    name: 'Cart reminder',
    channel: 'sms',
    content: {
      signName: '潮汐优选',
      templateCode: 'SMS_1',
      params: { name: '{{ profile.traits.firstName }}', sku: '{{ event.properties.sku | default: "-" }}' },
      text: '【潮汐优选】{{ profile.traits.firstName }}，您的购物车还有商品 {{ "https://shop.example.com/cart" | track }}',
    },
  },
  nickname: {
    id: 'nickname',
    version: 1,
    name: 'Needs a nickname',
    channel: 'sms',
    content: {
      signName: 'S',
      templateCode: 'SMS_2',
      params: { nick: '{{ profile.traits.nickname | required }}' },
    },
  },
  greeting: {
    id: 'greeting',
    version: 1,
    name: 'Greets by nickname when there is one',
    channel: 'sms',
    content: { signName: 'S', templateCode: 'SMS_3', params: { nick: '{{ profile.traits.nickname }}' } },
  },
  poster: {
    id: 'poster',
    version: 1,
    name: 'Official Account template message',
    channel: 'wechat',
    content: { templateId: 'TPL2', data: { thing1: '{{ profile.traits.firstName }}' } },
  },
  coupon: {
    id: 'coupon',
    version: 1,
    name: 'Mini program coupon',
    channel: 'miniprogram',
    content: { templateId: 'TPL1', data: { thing1: '优惠券' } },
  },
};

/** The adapter port answered from a script per phone number; every call is recorded. */
class ScriptedSms implements ChannelProvider<string, SmsMessage> {
  readonly name = 'aliyun-sms';
  readonly calls: Delivery<string, SmsMessage>[] = [];
  taken = new Set<string>();
  reconcile?: (d: Delivery<string, SmsMessage>) => Promise<ProviderResult | null>;
  constructor(
    private readonly script: (phone: string, call: number) => ProviderResult = () => ({ class: 'OK' }),
    options: { reconcile?: boolean; delayMs?: number } = {},
  ) {
    this.delayMs = options.delayMs ?? 0;
    if (options.reconcile) {
      this.reconcile = async (d) =>
        this.taken.has(d.messageId) ? { class: 'OK', providerId: `biz-${d.messageId}` } : null;
    }
  }
  private readonly delayMs: number;
  async send(d: Delivery<string, SmsMessage>): Promise<ProviderResult> {
    this.calls.push(d);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const result = this.script(d.address, this.calls.length);
    if (result.class === 'OK' || result.class === 'UNKNOWN') this.taken.add(d.messageId);
    return result.class === 'OK' ? { providerId: `biz-${d.messageId}`, ...result } : result;
  }
}

function message(id: string, overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  return {
    messageId: `cart:${id}:remind:1`,
    journeyId: 'cart',
    enrollmentId: `cart:${id}`,
    version: 1,
    step: 'remind',
    channel: 'sms',
    template: 'reminder',
    trigger: { messageId: `t-${id}`, at: T0 },
    requestedAt: T0,
    attempts: 0,
    dueAt: T0,
    ...overrides,
  };
}

const ann = (overrides: Partial<Profile> = {}): Profile =>
  makeProfile('u:ann', {
    consent: { sms: { granted: true, at: T0 - HOUR } },
    timezone: 'Asia/Shanghai',
    ...overrides,
  });

function dispatcher(
  providers: Providers,
  options: {
    state?: ChannelState;
    policy?: Partial<SendPolicy>;
    clock?: { now: number };
    sandboxAddresses?: SandboxAddresses;
  } = {},
) {
  const clock = options.clock ?? { now: T0 };
  const state = options.state ?? new MemoryChannelState();
  const sandbox = new SandboxChannel();
  const d = new Dispatcher({
    state,
    providers,
    policy: { ...DEFAULT_POLICY, ...options.policy },
    templates: (id) => templates[id],
    triggerEvent: async (_key, trigger) => ({
      messageId: trigger.messageId,
      type: 'track',
      event: 'cart_add',
      properties: { sku: 'SKU-9' },
      timestamp: trigger.at,
      receivedAt: trigger.at,
    }),
    links: new LinkSigner('https://t.example.com', 'secret'),
    sandbox,
    ...(options.sandboxAddresses ? { sandboxAddresses: options.sandboxAddresses } : {}),
    logger: silent,
    timezone: 'Asia/Shanghai',
    now: () => clock.now,
  });
  return { d, state, clock, sandbox };
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `tltest:${randomBytes(6).toString('hex')}`;
after(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('dispatcher', () => {
  it('renders the template with the profile, the trigger and a tracked link, and sends it once', async () => {
    const sms = new ScriptedSms();
    const { d } = dispatcher({ sms });
    const outcome = await d.send({ message: message('1'), profile: ann() });
    assert.deepEqual(outcome, { status: 'sent', provider: 'aliyun-sms', providerId: 'biz-cart:1:remind:1' });
    assert.equal(sms.calls.length, 1);
    const { address, message: m } = sms.calls[0];
    assert.equal(address, '13800138000');
    assert.deepEqual(m.params, { name: 'Mei', sku: 'SKU-9' });
    assert.match(m.text!, /^【潮汐优选】Mei，您的购物车还有商品 https:\/\/t\.example\.com\/c\/\S+$/);
    // Handed over again (a retried job, a second worker): the recorded answer, no second call.
    assert.deepEqual(await d.send({ message: message('1'), profile: ann() }), outcome);
    assert.equal(sms.calls.length, 1);
  });

  it('gives the same message to one caller when it is handed over 20 times at once', async () => {
    const sms = new ScriptedSms(() => ({ class: 'OK' }), { delayMs: 20 });
    const { d } = dispatcher({ sms }, { state: new RedisChannelState(redis, `${prefix}:once`) });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => d.send({ message: message('2'), profile: ann() })),
    );
    assert.equal(sms.calls.length, 1);
    assert.equal(outcomes.filter((o) => o.status === 'sent').length, 1);
    // The others leave the outcome to the caller holding the claim.
    assert.ok(outcomes.every((o) => o.status === 'sent' || o.status === 'busy'));
  });

  it('sends exactly 3 of 100 concurrent messages to one user under a cap of 3 a day (Redis)', async () => {
    const sms = new ScriptedSms(() => ({ class: 'OK' }), { delayMs: 5 });
    const policy = {
      frequencyCaps: [
        { channel: 'sms' as const, limit: 3, window: 'P1D' },
        { channel: 'any' as const, limit: 10, window: 'PT1H' },
      ],
    };
    const state = new RedisChannelState(redis, `${prefix}:caps`);
    // Two dispatchers, as two workers would be.
    const a = dispatcher({ sms }, { state, policy }).d;
    const b = dispatcher({ sms }, { state, policy }).d;
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 ? a : b).send({ message: message(`c${i}`), profile: ann() }),
      ),
    );
    assert.equal(sms.calls.length, 3);
    assert.equal(outcomes.filter((o) => o.status === 'sent').length, 3);
    assert.equal(
      outcomes.filter((o) => o.status === 'skipped' && o.reason === 'frequency_capped').length,
      97,
    );
    // A transactional journey is exempt.
    const exempt = await a.send({ message: message('tx', { transactional: true }), profile: ann() });
    assert.equal(exempt.status, 'sent');
  });

  it('defers or drops in the journey’s quiet hours by the user’s own clock', async () => {
    const quiet = { start: '21:00', end: '08:00' };
    const sms = new ScriptedSms();
    const clock = { now: Date.parse('2026-03-02T14:30:00Z') }; // 22:30 Shanghai, 09:30 New York
    const { d } = dispatcher({ sms }, { clock, policy: { promotionalSmsHours: null } });
    const deferred = await d.send({
      message: message('q1', { quietHours: { ...quiet, action: 'defer' } }),
      profile: ann(),
    });
    assert.deepEqual(deferred, {
      status: 'deferred',
      reason: 'quiet_hours',
      retryAt: Date.parse('2026-03-03T00:00:00Z'), // 08:00 Shanghai
    });
    const dropped = await d.send({
      message: message('q2', { quietHours: { ...quiet, action: 'drop' } }),
      profile: ann(),
    });
    assert.deepEqual(dropped, { status: 'skipped', reason: 'quiet_hours' });
    const newYork = await d.send({
      message: message('q3', { quietHours: { ...quiet, action: 'defer' } }),
      profile: ann({ timezone: 'America/New_York' }),
    });
    assert.equal(newYork.status, 'sent');
    assert.equal(sms.calls.length, 1);
  });

  it('holds promotional SMS to 08:00-21:59 local time unless the journey is transactional', async () => {
    const sms = new ScriptedSms();
    const clock = { now: Date.parse('2026-03-02T14:30:00Z') }; // 22:30 Shanghai
    const { d } = dispatcher({ sms }, { clock });
    assert.deepEqual(await d.send({ message: message('p1'), profile: ann() }), {
      status: 'deferred',
      reason: 'promotional_sms_hours',
      retryAt: Date.parse('2026-03-03T00:00:00Z'),
    });
    assert.equal(
      (await d.send({ message: message('p2', { transactional: true }), profile: ann() })).status,
      'sent',
    );
    clock.now = Date.parse('2026-03-02T13:59:00Z'); // 21:59
    assert.equal((await d.send({ message: message('p3'), profile: ann() })).status, 'sent');
  });

  it('suppresses an address the provider refuses for good, and never sends to it again', async () => {
    const sms = new ScriptedSms(() => ({ class: 'PERM_RECIPIENT', code: 'isv.MOBILE_NUMBER_ILLEGAL' }));
    const { d, state } = dispatcher({ sms });
    assert.deepEqual(await d.send({ message: message('s1'), profile: ann() }), {
      status: 'failed',
      reason: 'recipient_rejected',
      code: 'isv.MOBILE_NUMBER_ILLEGAL',
    });
    assert.equal(
      (await state.suppressed('sms', '13800138000'))?.reason,
      'aliyun-sms:isv.MOBILE_NUMBER_ILLEGAL',
    );
    assert.deepEqual(await d.send({ message: message('s2'), profile: ann() }), {
      status: 'skipped',
      reason: 'suppressed',
    });
    // The same number written another way is the same address.
    const plus = ann({ traits: { ...ann().traits, phone: '0086 138-0013-8000' } });
    assert.deepEqual(await d.send({ message: message('s3'), profile: plus }), {
      status: 'skipped',
      reason: 'suppressed',
    });
    assert.equal(sms.calls.length, 1);
  });

  it('reconciles an unknown outcome before anything else: found means sent, once', async () => {
    const sms = new ScriptedSms(
      (_, call) => (call === 1 ? { class: 'UNKNOWN', detail: 'ReadTimeout' } : { class: 'OK' }),
      {
        reconcile: true,
      },
    );
    const { d, clock } = dispatcher({ sms });
    const first = await d.send({ message: message('u1'), profile: ann() });
    assert.equal(first.status, 'retry');
    clock.now += 31_000;
    const second = await d.send({ message: message('u1', { attempts: 1 }), profile: ann() });
    assert.deepEqual(second, { status: 'sent', provider: 'aliyun-sms', providerId: 'biz-cart:u1:remind:1' });
    assert.equal(sms.calls.length, 1, 'the provider had it: not sent again');
  });

  it('sends again after an unknown outcome only when the provider has no trace of the message', async () => {
    const sms = new ScriptedSms((_, call) => (call === 1 ? { class: 'UNKNOWN' } : { class: 'OK' }), {
      reconcile: true,
    });
    sms.reconcile = async () => null;
    const { d, clock } = dispatcher({ sms });
    await d.send({ message: message('u2'), profile: ann() });
    clock.now += 31_000;
    assert.equal((await d.send({ message: message('u2', { attempts: 1 }), profile: ann() })).status, 'sent');
    assert.equal(sms.calls.length, 2);
  });

  it('never re-sends an unknown outcome on a provider that cannot be asked', async () => {
    const sms = new ScriptedSms(() => ({ class: 'UNKNOWN' }));
    const { d } = dispatcher({ sms });
    assert.deepEqual(await d.send({ message: message('u3'), profile: ann() }), {
      status: 'unknown',
      reason: 'unknown_outcome',
    });
    assert.deepEqual(await d.send({ message: message('u3', { attempts: 1 }), profile: ann() }), {
      status: 'unknown',
      reason: 'unknown_outcome',
    });
    assert.equal(sms.calls.length, 1);
  });

  it('honours a provider’s retry-after and backs off plain errors', async () => {
    const sms = new ScriptedSms((phone) =>
      phone.endsWith('0001')
        ? { class: 'RETRY_LATER', retryAfterMs: 60_000, code: 'Throttling.User' }
        : { class: 'RETRY' },
    );
    const { d } = dispatcher({ sms });
    const later = await d.send({
      message: message('r1'),
      profile: ann({ traits: { ...ann().traits, phone: '13900000001' } }),
    });
    assert.equal(later.status, 'retry');
    assert.ok(later.status === 'retry' && later.retryAt >= T0 + 48_000 && later.retryAt <= T0 + 72_000);
    assert.equal(later.status === 'retry' && later.reason, 'provider_rate_limit: Throttling.User');
    const plain = await d.send({ message: message('r2', { attempts: 2 }), profile: ann() });
    assert.ok(plain.status === 'retry' && plain.retryAt >= T0 + 16_000 && plain.retryAt <= T0 + 24_000);
  });

  it('pauses a journey’s channel on a configuration fault, with an alert, until it is resolved', async () => {
    let broken = true;
    const sms = new ScriptedSms(() =>
      broken ? { class: 'PERM_CONFIG', code: 'isv.AMOUNT_NOT_ENOUGH', detail: '余额不足' } : { class: 'OK' },
    );
    const { d, state, clock } = dispatcher({ sms });
    assert.equal((await d.send({ message: message('k1'), profile: ann() })).status, 'failed');
    assert.deepEqual(
      (await state.alerts()).map((a) => [a.id, a.code]),
      [['cart:sms', 'isv.AMOUNT_NOT_ENOUGH']],
    );
    const held = await d.send({ message: message('k2'), profile: ann() });
    assert.equal(held.status === 'deferred' && held.reason, 'channel_paused');
    // Another journey's sends go on.
    assert.equal(
      (await d.send({ message: message('k3', { journeyId: 'welcome' }), profile: ann() })).status,
      'failed',
    );
    broken = false;
    await state.resolveAlert('cart:sms');
    await state.resolveAlert('welcome:sms');
    clock.now += 10_000;
    assert.equal((await d.send({ message: message('k2'), profile: ann() })).status, 'sent');
  });

  it('fails a message whose template requires a value the user does not have', async () => {
    const sms = new ScriptedSms();
    const { d } = dispatcher({ sms });
    const outcome = await d.send({ message: message('v1', { template: 'nickname' }), profile: ann() });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.status === 'failed' && outcome.reason, 'render_failed');
    assert.match(
      outcome.status === 'failed' ? (outcome.code ?? '') : '',
      /profile\.traits\.nickname is required and missing/,
    );
    assert.equal(sms.calls.length, 0);
  });

  it('renders a trait the user does not have as empty when the template does not require it', async () => {
    const sms = new ScriptedSms();
    const { d } = dispatcher({ sms });
    const outcome = await d.send({ message: message('v2', { template: 'greeting' }), profile: ann() });
    assert.equal(outcome.status, 'sent');
    assert.deepEqual(sms.calls[0].message.params, { nick: '' });
  });

  it('spends one Mini Program credit per subscribe message and never sends at zero', async () => {
    const calls: string[] = [];
    const mini: ChannelProvider<{ appId: string; openId: string }, { templateId: string }> = {
      name: 'miniprogram',
      async send(delivery) {
        calls.push(delivery.messageId);
        return calls.length === 2
          ? { class: 'PERM_RECIPIENT', code: '43101' }
          : { class: 'OK', providerId: 'wx1' };
      },
    };
    const { d, state } = dispatcher({ miniprogram: { appId: 'wxapp', provider: mini as never } });
    const wx = ann({ wechat: { wxapp: { openId: 'oAnn', at: T0 } } });
    const coupon = (id: string) => message(id, { channel: 'miniprogram', template: 'coupon' });
    assert.deepEqual(await d.send({ message: coupon('m1'), profile: wx }), {
      status: 'skipped',
      reason: 'no_subscription_credit',
    });
    const key = creditKey({ appId: 'wxapp', openId: 'oAnn' }, { templateId: 'TPL1' });
    await state.grantCredit(key, 'accept');
    await state.grantCredit(key, 'accept');
    assert.equal((await d.send({ message: coupon('m2'), profile: wx })).status, 'sent');
    assert.equal(await state.credits(key), 1);
    // 43101: WeChat has no credit for us whatever we counted; the credit is not given back.
    assert.equal((await d.send({ message: coupon('m3'), profile: wx })).status, 'failed');
    assert.equal(await state.credits(key), 0);
    assert.deepEqual(calls, ['cart:m2:remind:1', 'cart:m3:remind:1']);
  });

  it('sends channels without a provider to the sandbox, which skips and fails as the channel would', async () => {
    const { d, state, sandbox } = dispatcher({}, { sandboxAddresses: { wechat: 'wx_oa' } });
    assert.deepEqual(await d.send({ message: message('x1'), profile: ann() }), { status: 'sandbox' });
    // Handed over again (a retried commit): recorded once, same answer.
    assert.deepEqual(await d.send({ message: message('x1'), profile: ann() }), { status: 'sandbox' });
    const [recorded] = sandbox.sent();
    assert.equal(sandbox.sent().length, 1);
    assert.equal(recorded.address, '138****8000');
    assert.equal((recorded.rendered as SmsMessage).params.name, 'Mei');
    assert.deepEqual((await state.record('cart:x1:remind:1'))?.status, 'sandbox');

    const noPhone = ann({ traits: { email: 'ann@example.com' } });
    assert.deepEqual(await d.send({ message: message('x3'), profile: noPhone }), {
      status: 'skipped',
      reason: 'no_address',
    });
    const refused = ann({ consent: { sms: { granted: false, at: T0 - HOUR } } });
    assert.deepEqual(await d.send({ message: message('x4'), profile: refused }), {
      status: 'skipped',
      reason: 'no_consent',
    });
    const failed = await d.send({ message: message('x5', { template: 'nickname' }), profile: ann() });
    assert.equal(failed.status === 'failed' && failed.reason, 'render_failed');
    // The channels file names the Official Account: an openid under another app is no address there.
    const otherApp = ann({ wechat: { wx_other: { openId: 'oAnn', at: T0 } } });
    const poster = (id: string) => message(id, { channel: 'wechat', template: 'poster' });
    assert.deepEqual(await d.send({ message: poster('x6'), profile: otherApp }), {
      status: 'skipped',
      reason: 'no_address',
    });
    const follower = ann({ wechat: { wx_oa: { openId: 'oAnn', at: T0 } } });
    assert.deepEqual(await d.send({ message: poster('x7'), profile: follower }), { status: 'sandbox' });
    assert.deepEqual(sandbox.sent()[1].rendered, { templateId: 'TPL2', data: { thing1: 'Mei' } });
    await state.suppress('sms', '13800138000', { reason: 'test', at: T0 });
    assert.deepEqual(await d.send({ message: message('x8'), profile: ann() }), {
      status: 'skipped',
      reason: 'suppressed',
    });
    assert.equal(sandbox.sent().length, 2);
  });
});
