import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import type {
  Delivery,
  MiniprogramMessage,
  WechatAddress,
  WechatTemplateMessage,
} from '../../channels/provider.ts';
import { classifyErrcode } from '../../channels/wechat/errcodes.ts';
import { keyLimitProblems } from '../../templates/wechat-keys.ts';
import { MiniprogramSubscribeProvider } from '../../channels/wechat/subscribe.ts';
import { clientMsgId, RESEND_WINDOW_MS, WechatTemplateProvider } from '../../channels/wechat/template.ts';
import { AccessTokenCache, AccessTokenError } from '../../channels/wechat/token.ts';
import { startWechatFake, type WechatFake, type WechatFakeOptions } from '../../dev/fakes/wechat.ts';

const OFFICIAL = { appId: 'wx_official_demo', secret: 'official-secret' };
const MINI = { appId: 'wx_miniprogram_demo', secret: 'mini-secret' };
const TEMPLATES = {
  order_shipped: ['thing2', 'amount3', 'time4'],
  coupon_ready: ['thing1', 'phrase2', 'date3'],
};
const ORDER = { thing2: '巧克力', amount3: '¥39.80', time4: '2026年3月2日 10:00' };
const COUPON = { thing1: '双十一海报券', phrase2: '待领取', date3: '2026-11-11' };
const TIMEOUT_MS = 300;

async function fake(t: TestContext, options: WechatFakeOptions = {}): Promise<WechatFake> {
  const started = await startWechatFake({
    apps: { [OFFICIAL.appId]: OFFICIAL.secret, [MINI.appId]: MINI.secret },
    templates: TEMPLATES,
    ...options,
  });
  t.after(() => started.close());
  return started;
}

let n = 0;
function templateDelivery(
  openId: string,
  message: Partial<WechatTemplateMessage> = {},
  at = Date.now(),
): Delivery<WechatAddress, WechatTemplateMessage> {
  return {
    messageId: `qr_follow_up:e${++n}:poster_wechat:1`,
    address: { appId: OFFICIAL.appId, openId },
    message: { templateId: 'order_shipped', data: ORDER, ...message },
    firstAttemptAt: at,
  };
}

function subscribeDelivery(
  openId: string,
  message: Partial<MiniprogramMessage> = {},
): Delivery<WechatAddress, MiniprogramMessage> {
  return {
    messageId: `coupon:e${++n}:notify:1`,
    address: { appId: MINI.appId, openId },
    message: { templateId: 'coupon_ready', data: COUPON, ...message },
    firstAttemptAt: Date.now(),
  };
}

/** A stand-in WeChat for answers the fake never gives: tokens from stable_token, sends by `send`. */
async function scriptedWechat(
  t: TestContext,
  send: (res: ServerResponse) => void,
): Promise<{ url: string; sends: () => number }> {
  let sends = 0;
  let tokens = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume().on('end', () => {
      if (req.url === '/cgi-bin/stable_token')
        return void res.end(JSON.stringify({ access_token: `tok-${++tokens}`, expires_in: 7200 }));
      sends++;
      send(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sends: () => sends };
}

test('a template message carries client_msg_id = the message id and data as { key: { value } }', async (t) => {
  const wx = await fake(t);
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  const delivery = templateDelivery('oFollower1', {
    url: 'https://shop.example.cn/orders/1',
    miniprogram: { appid: MINI.appId, pagepath: 'pages/order?id=1' },
  });
  const result = await provider.send(delivery);
  assert.equal(provider.name, 'wechat');
  assert.equal(wx.sent.length, 1);
  const [sent] = wx.sent;
  // WeChat's msgids are 64-bit: every digit survives the JSON answer.
  assert.deepEqual(result, { class: 'OK', providerId: sent.msgid });
  assert.match(sent.msgid, /^\d{19}$/);
  assert.deepEqual(sent.body, {
    touser: 'oFollower1',
    template_id: 'order_shipped',
    url: 'https://shop.example.cn/orders/1',
    miniprogram: { appid: MINI.appId, pagepath: 'pages/order?id=1' },
    client_msg_id: delivery.messageId,
    data: {
      thing2: { value: '巧克力' },
      amount3: { value: '¥39.80' },
      time4: { value: '2026年3月2日 10:00' },
    },
  });
  assert.equal(sent.appId, OFFICIAL.appId);
});

test('a message id over 64 characters goes out as its SHA-256, the same each time', async (t) => {
  const wx = await fake(t);
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  const long = `journey_with_a_rather_long_identifier:${'e'.repeat(40)}:step:1`;
  assert.equal(clientMsgId('qr_follow_up:e1:poster_wechat:1'), 'qr_follow_up:e1:poster_wechat:1');
  assert.match(clientMsgId(long), /^[0-9a-f]{64}$/);
  assert.equal(clientMsgId(long), clientMsgId(long));
  assert.notEqual(clientMsgId(long), clientMsgId(`${long}x`));
  assert.match(clientMsgId('欢迎:1'), /^[0-9a-f]{64}$/, 'non-ASCII ids are hashed too');
  await provider.send({ ...templateDelivery('oFollower2'), messageId: long });
  assert.equal(wx.sent[0].clientMsgId, clientMsgId(long));
});

test('WeChat errcodes are classified by outcome class; none of those sends is recorded', async (t) => {
  const wx = await fake(t);
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  const cases: [string, Partial<WechatTemplateMessage>, string, string][] = [
    ['o1_43004', {}, 'PERM_RECIPIENT', '43004'],
    ['o1_43101', {}, 'PERM_RECIPIENT', '43101'],
    ['o1_40003', {}, 'PERM_RECIPIENT', '40003'],
    ['o1_43019', {}, 'PERM_RECIPIENT', '43019'],
    ['o1_busy', {}, 'RETRY', '-1'],
    ['o1_quota', {}, 'RETRY_LATER', '45009'],
    ['o1_45011', {}, 'RETRY_LATER', '45011'],
    ['o1_40164', {}, 'PERM_CONFIG', '40164'],
    ['o1_48001', {}, 'PERM_CONFIG', '48001'],
    ['o1_41030', {}, 'PERM_MESSAGE', '41030'],
    ['o1', { templateId: 'no_such_template' }, 'PERM_CONFIG', '40037'],
    ['o1', { data: { ...ORDER, thing2: '一'.repeat(21) } }, 'PERM_MESSAGE', '47003'],
    ['o1', { data: { thing2: '巧克力' } }, 'PERM_MESSAGE', '47003'],
    // A code not in the table fails the message, not the channel.
    ['o1_40999', {}, 'PERM_MESSAGE', '40999'],
  ];
  for (const [openId, message, expected, code] of cases) {
    const result = await provider.send(templateDelivery(openId, message));
    assert.equal(result.class, expected, `${openId} ${code}`);
    assert.equal(result.code, code);
    assert.match(result.detail ?? '', /rid: /);
  }
  const quota = await provider.send(templateDelivery('o1_quota'));
  assert.ok(quota.retryAfterMs! > 0 && quota.retryAfterMs! <= 86_400_000);
  assert.equal((await provider.send(templateDelivery('o1_45011'))).retryAfterMs, 60_000);
  assert.equal(wx.sent.length, 0);
});

test('a daily quota waits until midnight Beijing time', () => {
  const at = Date.parse('2026-03-02T15:30:00Z'); // 23:30 in Beijing
  assert.deepEqual(classifyErrcode(45009, 'reach max api daily quota limit', at), {
    class: 'RETRY_LATER',
    code: '45009',
    detail: 'reach max api daily quota limit',
    retryAfterMs: 30 * 60_000,
  });
  assert.deepEqual(classifyErrcode(0, 'ok', at), { class: 'OK' });
});

test('token endpoint errors are PERM_CONFIG; an app without a secret too', async (t) => {
  const wx = await fake(t);
  const wrongSecret = new WechatTemplateProvider({
    apps: [{ ...OFFICIAL, secret: 'wrong' }],
    baseUrl: wx.url,
    timeoutMs: TIMEOUT_MS,
  });
  assert.deepEqual(
    { ...(await wrongSecret.send(templateDelivery('o2'))), detail: undefined },
    { class: 'PERM_CONFIG', code: '40125', detail: undefined },
  );
  const unknownApp = new WechatTemplateProvider({
    apps: [{ appId: 'wx_unknown', secret: 'x' }],
    baseUrl: wx.url,
    timeoutMs: TIMEOUT_MS,
  });
  const send = templateDelivery('o2');
  const result = await unknownApp.send({ ...send, address: { ...send.address, appId: 'wx_unknown' } });
  assert.equal(result.class, 'PERM_CONFIG');
  assert.equal(result.code, '40013');
  const notConfigured = await wrongSecret.send({ ...send, address: { ...send.address, appId: 'wx_other' } });
  assert.equal(notConfigured.class, 'PERM_CONFIG');
  assert.equal(notConfigured.code, 'unknown_app');
  assert.equal(wx.sent.length, 0);
});

test('one token fetch for many sends; concurrent sends share one fetch', async (t) => {
  const wx = await fake(t, { latencyMs: 20 });
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: 2000 });
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => provider.send(templateDelivery(`oC${i}`))),
  );
  assert.ok(results.every((r) => r.class === 'OK'));
  for (let i = 0; i < 5; i++) await provider.send(templateDelivery(`oS${i}`));
  assert.equal(wx.tokenRequests, 1);
  assert.equal(wx.sent.length, 55);
});

test('the token cache: kept until expires_in - 300 s, one fetch in flight, failures not kept', async (t) => {
  const wx = await fake(t, { latencyMs: 10 });
  let clock = Date.now();
  const cache = new AccessTokenCache({ ...OFFICIAL, baseUrl: wx.url, now: () => clock, timeoutMs: 2000 });
  const tokens = await Promise.all(Array.from({ length: 20 }, () => cache.get()));
  assert.deepEqual(new Set(tokens), new Set(['tok-1']));
  assert.equal(wx.tokenRequests, 1);
  clock += (7200 - 300) * 1000 - 1;
  assert.equal(await cache.get(), 'tok-1');
  assert.equal(wx.tokenRequests, 1);
  clock += 1;
  // Normal mode hands back the same token while it is valid.
  assert.equal(await cache.get(), 'tok-1');
  assert.equal(wx.tokenRequests, 2);

  const broken = new AccessTokenCache({ ...OFFICIAL, secret: 'wrong', baseUrl: wx.url, timeoutMs: 2000 });
  for (let i = 0; i < 2; i++)
    await assert.rejects(broken.get(), (error: unknown) => {
      assert.ok(error instanceof AccessTokenError);
      assert.equal(error.result.class, 'PERM_CONFIG');
      assert.equal(error.result.code, '40125');
      return true;
    });
  assert.equal(wx.tokenRequests, 4);
});

test('an expired token: one refresh, one retry, success', async (t) => {
  const wx = await fake(t);
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  assert.equal((await provider.send(templateDelivery('oE1'))).class, 'OK');
  wx.expireToken('tok-1');
  const result = await provider.send(templateDelivery('oE1'));
  assert.equal(result.class, 'OK');
  assert.equal(wx.tokenRequests, 2);
  assert.equal(wx.tokensIssued, 2);
  assert.equal(wx.sendRequests, 3);
  assert.equal(wx.sent.length, 2);
  // Later sends use the new token without asking again.
  await provider.send(templateDelivery('oE1'));
  assert.equal(wx.tokenRequests, 2);
});

test('normal mode handing back the rejected token: force_refresh, then the retry succeeds', async (t) => {
  const wx = await fake(t);
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  assert.equal((await provider.send(templateDelivery('oF1'))).class, 'OK');
  wx.rejectToken('tok-1');
  const results = await Promise.all([1, 2, 3].map(() => provider.send(templateDelivery('oF1'))));
  assert.deepEqual(
    results.map((r) => r.class),
    ['OK', 'OK', 'OK'],
  );
  // The first token, normal mode (tok-1 again), force_refresh (tok-2): shared by the three sends.
  assert.equal(wx.tokenRequests, 3);
  assert.equal(wx.tokensIssued, 2);
  assert.equal(wx.sent.length, 4);
});

test('a token still rejected after the refresh: REFRESH_TOKEN, after exactly one retry', async (t) => {
  const wx = await scriptedWechat(t, (res) =>
    res.end(JSON.stringify({ errcode: 40001, errmsg: 'invalid credential rid: 1' })),
  );
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  const result = await provider.send(templateDelivery('oR1'));
  assert.equal(result.class, 'REFRESH_TOKEN');
  assert.equal(result.code, '40001');
  assert.equal(wx.sends(), 2);
});

test('HTTP 5xx: RETRY for template sends (client_msg_id dedupes), UNKNOWN for subscribe sends', async (t) => {
  const wx = await scriptedWechat(t, (res) => res.writeHead(502).end('bad gateway'));
  const template = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  assert.deepEqual(await template.send(templateDelivery('o5')), { class: 'RETRY', code: 'http_502' });
  const subscribe = new MiniprogramSubscribeProvider({
    apps: [MINI],
    baseUrl: wx.url,
    timeoutMs: TIMEOUT_MS,
  });
  assert.deepEqual(await subscribe.send(subscribeDelivery('o5')), { class: 'UNKNOWN', code: 'http_502' });
});

test('nobody listening: the send never left, RETRY', async (t) => {
  const wx = await fake(t);
  const provider = new WechatTemplateProvider({ apps: [OFFICIAL], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  assert.equal((await provider.send(templateDelivery('oN1'))).class, 'OK');
  await wx.close();
  // Once the pooled keep-alive connection is known to be closed (a send on it would be lost: UNKNOWN).
  await new Promise((resolve) => setTimeout(resolve, 100));
  const result = await provider.send(templateDelivery('oN1'));
  assert.equal(result.class, 'RETRY');
  assert.match(result.detail ?? '', /ECONNREFUSED/);
});

test('a timeout is UNKNOWN; reconcile re-sends within the window: exactly one message on the fake', async (t) => {
  const wx = await fake(t, { slowMs: 3 * TIMEOUT_MS });
  let clock = Date.now();
  const provider = new WechatTemplateProvider({
    apps: [OFFICIAL],
    baseUrl: wx.url,
    timeoutMs: TIMEOUT_MS,
    now: () => clock,
  });
  const delivery = templateDelivery('oT1_slow', {}, clock);
  const first = await provider.send(delivery);
  assert.equal(first.class, 'UNKNOWN');
  assert.equal(wx.sent.length, 1, 'the fake took it before the client gave up');
  clock += RESEND_WINDOW_MS - 1000;
  const reconciled = await provider.reconcile(delivery);
  assert.deepEqual(reconciled, { class: 'OK', providerId: wx.sent[0].msgid });
  assert.equal(wx.sent.length, 1);
  assert.equal(wx.sendRequests, 2);

  // Past the window: never re-sent blindly.
  clock = delivery.firstAttemptAt + RESEND_WINDOW_MS + 1;
  assert.equal((await provider.reconcile(delivery)).class, 'UNKNOWN');
  assert.equal(wx.sendRequests, 2);

  // A message the fake never saw is sent by reconcile; any other answer comes back as it is.
  const unseen = templateDelivery('oT2', {}, clock);
  assert.equal((await provider.reconcile(unseen)).class, 'OK');
  const busy = await provider.reconcile(templateDelivery('oT3_busy', {}, clock));
  assert.deepEqual({ class: busy.class, code: busy.code }, { class: 'RETRY', code: '-1' });
  assert.equal(wx.sent.length, 2);
});

test('subscribe messages: the body, 43101 → PERM_RECIPIENT, the errcodes of 2.3; a timeout stays UNKNOWN', async (t) => {
  const wx = await fake(t, { slowMs: 3 * TIMEOUT_MS });
  const provider = new MiniprogramSubscribeProvider({ apps: [MINI], baseUrl: wx.url, timeoutMs: TIMEOUT_MS });
  assert.equal(provider.name, 'miniprogram');
  assert.equal('reconcile' in provider, false, 'no dedupe key, no reconcile');
  const result = await provider.send(
    subscribeDelivery('oMini1', { page: 'pages/coupon?id=7', miniprogramState: 'trial', lang: 'en_US' }),
  );
  assert.deepEqual(result, { class: 'OK', providerId: wx.sent[0].msgid });
  assert.deepEqual(wx.sent[0].body, {
    touser: 'oMini1',
    template_id: 'coupon_ready',
    page: 'pages/coupon?id=7',
    miniprogram_state: 'trial',
    lang: 'en_US',
    data: { thing1: { value: '双十一海报券' }, phrase2: { value: '待领取' }, date3: { value: '2026-11-11' } },
  });
  assert.equal(wx.sent[0].api, 'subscribe');

  const refused = await provider.send(subscribeDelivery('oMini2_43101'));
  assert.equal(refused.class, 'PERM_RECIPIENT');
  assert.equal(refused.code, '43101');
  const badValue = await provider.send(
    subscribeDelivery('oMini3', { data: { ...COUPON, phrase2: 'pending' } }),
  );
  assert.deepEqual([badValue.class, badValue.code], ['PERM_MESSAGE', '47003']);
  assert.match(badValue.detail ?? '', /data\.phrase2\.value invalid/);
  const badTemplate = await provider.send(subscribeDelivery('oMini4', { templateId: 'gone' }));
  assert.deepEqual([badTemplate.class, badTemplate.code], ['PERM_CONFIG', '40037']);
  const badPage = await provider.send(subscribeDelivery('oMini5_41030'));
  assert.deepEqual([badPage.class, badPage.code], ['PERM_MESSAGE', '41030']);

  const slow = await provider.send(subscribeDelivery('oMini6_slow'));
  assert.equal(slow.class, 'UNKNOWN');
  assert.equal(wx.sent.length, 2);
});

test('WeChat template key limits by key prefix', () => {
  const good = {
    thing1: '一二三四五六七八九十一二三四五六七八九十',
    number2: '1234567890.55',
    letter3: 'ABCdef',
    symbol4: '%#@',
    character_string5: 'SF1234567890-A',
    phrase6: '配送中',
    name7: '欧阳娜娜',
    name8: 'Alexander Hamilton',
    amount9: '¥39.80',
    amount10: '100元',
    phone_number11: '+86 138-0013-8000',
    car_number12: '粤B12345',
    time13: '15:01',
    time14: '2019年10月1日 15:01',
    date15: '2026-03-02 ~ 2026-03-05',
    keyword16: 'legacy keys are not checked, whatever their length is',
    const17: 'approved values are not checked here',
  };
  assert.deepEqual(keyLimitProblems(good), []);
  const bad = {
    thing1: '一'.repeat(21),
    number2: '12a',
    number3: '1'.repeat(33),
    letter4: 'abc1',
    symbol5: '%%%%%%',
    character_string6: '中文',
    phrase7: '配送中了吗吗',
    phrase8: 'ok',
    name9: '一二三四五六七八九十一',
    name10: 'A'.repeat(21),
    amount11: '39.80 dollars',
    phone_number12: '1'.repeat(18),
    car_number13: '粤B123456789',
    car_number14: 'B粤123',
    time15: 'tomorrow',
    date16: '2026-03-02 ~ soon',
    thing17: '',
  };
  const problems = keyLimitProblems(bad);
  assert.deepEqual(
    problems.map((p) => p.key),
    Object.keys(bad),
  );
  assert.equal(problems[0].message, 'at most 20 characters (has 21)');
});
