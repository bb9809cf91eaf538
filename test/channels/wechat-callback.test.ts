import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { encrypt, getSignature } from '@wecom/crypto';
import type { InboundFact } from '../../channels/inbound.ts';
import {
  messageDedupeKey,
  openMessage,
  parseMessage,
  verifySignature,
  verifyUrl,
  wechatFacts,
  type WechatMessage,
} from '../../channels/wechat/callback.ts';
import { signedPush, startWechatFake } from '../../dev/fakes/wechat.ts';

const TOKEN = 'tideline-callback-token';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const APP_ID = 'wx_official_demo';
const KEYS = { token: TOKEN, encodingAESKey: AES_KEY, appId: APP_ID };
const NOW = Date.parse('2026-11-11T02:00:00Z');
const CREATE_TIME = NOW / 1000;
const OPENID = 'oUser_1';
const CONTEXT = { wechat: { appId: APP_ID, openId: OPENID } };

const sha1 = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

/** An event push as WeChat writes it (CDATA strings, bare numbers). */
function event(name: string, extra = ''): string {
  return (
    `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[${OPENID}]]></FromUserName>` +
    `<CreateTime>${CREATE_TIME}</CreateTime><MsgType><![CDATA[event]]></MsgType>` +
    `<Event><![CDATA[${name}]]></Event>${extra}</xml>`
  );
}

function facts(xmlOrJson: string): InboundFact[] {
  const message = parseMessage(xmlOrJson);
  assert.ok(message, 'parses');
  return wechatFacts(message, APP_ID);
}

/** The facts with each call's messageId checked (`wx-` + hash) and left out, for deepEqual. */
function shape(list: InboundFact[]): unknown[] {
  return list.map((fact) => {
    if (fact.kind !== 'call') return fact;
    const { messageId, ...call } = fact.call;
    assert.match(messageId, /^wx-[0-9a-f]{24}$/);
    return { ...fact, call };
  });
}

/** The engine's callback route, reduced to the inbound functions; `stall` leaves the first N requests unanswered. */
async function callbackServer(t: TestContext, stall = 0) {
  const received: { query: Record<string, string>; body: string }[] = [];
  const opened: string[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://callback').searchParams);
    received.push({ query, body });
    if (received.length <= stall) return;
    const result = openMessage(body, query, KEYS);
    if (!result.ok) return void res.writeHead(403).end(result.error);
    opened.push(result.plaintext);
    res.end('success');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wechat/callback`,
    received,
    opened,
  };
}

test('the signature: sha1 of the sorted token, timestamp and nonce; a timestamp too far from now is stale', () => {
  const timestamp = String(CREATE_TIME);
  const signature = sha1(TOKEN, timestamp, '1514');
  assert.equal(verifySignature(TOKEN, { signature, timestamp, nonce: '1514' }, NOW), 'ok');
  assert.equal(verifySignature(TOKEN, { signature, timestamp, nonce: '1515' }, NOW), 'bad_signature');
  assert.equal(verifySignature('other-token', { signature, timestamp, nonce: '1514' }, NOW), 'bad_signature');
  assert.equal(verifySignature(TOKEN, { signature: '', timestamp, nonce: '1514' }, NOW), 'bad_signature');
  assert.equal(verifySignature(TOKEN, { signature, timestamp, nonce: '1514' }, NOW + 299_000), 'ok');
  assert.equal(verifySignature(TOKEN, { signature, timestamp, nonce: '1514' }, NOW + 301_000), 'stale');
  assert.equal(verifySignature(TOKEN, { signature, timestamp, nonce: '1514' }, NOW - 301_000), 'stale');
  assert.equal(verifySignature(TOKEN, { signature, timestamp, nonce: '1514' }, NOW + 301_000, 600), 'ok');
});

test('URL verification answers the echostr only to a good signature', () => {
  const query = {
    signature: sha1(TOKEN, '1762826400', '77'),
    timestamp: '1762826400',
    nonce: '77',
    echostr: 'e-42',
  };
  assert.equal(verifyUrl(TOKEN, query), 'e-42');
  assert.equal(verifyUrl(TOKEN, { ...query, nonce: '78' }), null);
  assert.equal(verifyUrl('other-token', query), null);
  assert.equal(verifyUrl(TOKEN, { ...query, echostr: undefined }), null);
  assert.equal(
    verifyUrl(TOKEN, { ...query, echostr: ['e-42', 'e-43'] }),
    'e-42',
    'repeated parameters: the first',
  );
});

test('a plaintext push: the signature is checked, the body passes as it is', () => {
  const xml = event('CLICK', '<EventKey><![CDATA[MENU_COUPON]]></EventKey>');
  const { query, body } = signedPush(xml, { token: TOKEN, appId: APP_ID }, NOW);
  assert.equal(query.openid, OPENID);
  const keys = { token: TOKEN, appId: APP_ID, now: NOW };
  assert.deepEqual(openMessage(body, query, keys), { ok: true, plaintext: xml });
  assert.deepEqual(openMessage(body, { ...query, nonce: 'x' }, keys), { ok: false, error: 'bad_signature' });
  assert.deepEqual(openMessage(body, query, { ...keys, now: NOW + 3_600_000 }), {
    ok: false,
    error: 'stale',
  });
});

test('safe mode: an AES push through the fake is checked, decrypted and answered', async (t) => {
  const callback = await callbackServer(t);
  const wx = await startWechatFake();
  t.after(() => wx.close());
  const xml = event(
    'subscribe',
    '<EventKey><![CDATA[qrscene_poster_1111]]></EventKey><Ticket><![CDATA[T]]></Ticket>',
  );
  const answer = await wx.postEvent(callback.url, xml, KEYS);
  assert.deepEqual(answer, { status: 200, body: 'success', attempts: 1 });
  const [{ query, body }] = callback.received;
  assert.equal(query.encrypt_type, 'aes');
  assert.equal(query.msg_signature.length, 40);
  assert.match(body, /<Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt>/);
  assert.ok(!body.includes(OPENID), 'the event is not in the clear');
  assert.deepEqual(callback.opened, [xml]);
  assert.equal(facts(callback.opened[0]).length, 3);
});

test('safe mode: wrong app, forged msg_signature, missing key, unreadable Encrypt, JSON envelope', () => {
  const xml = event('unsubscribe');
  const pushed = signedPush(xml, KEYS, Date.now());
  assert.deepEqual(openMessage(pushed.body, pushed.query, KEYS), { ok: true, plaintext: xml });
  assert.deepEqual(openMessage(pushed.body, pushed.query, { ...KEYS, appId: 'wx_other' }), {
    ok: false,
    error: 'wrong_app',
  });
  const forged = { ...pushed.query, msg_signature: sha1('forged') };
  assert.deepEqual(openMessage(pushed.body, forged, KEYS), { ok: false, error: 'bad_signature' });
  assert.deepEqual(openMessage(pushed.body, pushed.query, { token: TOKEN, appId: APP_ID }), {
    ok: false,
    error: 'no_key',
  });
  assert.deepEqual(openMessage('<xml><ToUserName>gh</ToUserName></xml>', pushed.query, KEYS), {
    ok: false,
    error: 'no_encrypt',
  });
  const garbage = 'bm90IGEgY2lwaGVydGV4dA==';
  const signedGarbage = {
    ...pushed.query,
    msg_signature: getSignature(TOKEN, pushed.query.timestamp, pushed.query.nonce, garbage),
  };
  assert.deepEqual(openMessage(`<xml><Encrypt><![CDATA[${garbage}]]></Encrypt></xml>`, signedGarbage, KEYS), {
    ok: false,
    error: 'bad_encrypt',
  });
  // Mini Programs configured for JSON push send a JSON envelope.
  const json = JSON.stringify({ ToUserName: 'gh_mini', FromUserName: OPENID, CreateTime: CREATE_TIME });
  const encrypted = encrypt(AES_KEY, json, APP_ID);
  const query = {
    ...pushed.query,
    msg_signature: getSignature(TOKEN, pushed.query.timestamp, pushed.query.nonce, encrypted),
  };
  assert.deepEqual(openMessage(JSON.stringify({ ToUserName: 'gh_mini', Encrypt: encrypted }), query, KEYS), {
    ok: true,
    plaintext: json,
  });
});

test('parseMessage: CDATA, MsgID and MsgId, JSON with List as object or array, 64-bit ids, garbage', () => {
  const finished = parseMessage(
    event('TEMPLATESENDJOBFINISH', '<MsgID>2806937797364006913</MsgID><Status><![CDATA[success]]></Status>'),
  );
  assert.equal(finished?.MsgID, '2806937797364006913');
  assert.equal(finished?.CreateTime, String(CREATE_TIME));
  assert.equal(finished?.Event, 'TEMPLATESENDJOBFINISH');
  assert.equal(messageDedupeKey(finished!), 'wechat:2806937797364006913');
  const text = parseMessage(
    `<xml><FromUserName><![CDATA[${OPENID}]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好 <b>]]></Content><MsgId>1234567890123456</MsgId></xml>`,
  );
  assert.equal(text?.Content, '你好 <b>');
  assert.equal(messageDedupeKey(text!), 'wechat:1234567890123456');
  const json = parseMessage(
    `{"FromUserName":"${OPENID}","CreateTime":${CREATE_TIME},"MsgType":"event","Event":"subscribe_msg_sent_event",` +
      `"List":{"TemplateId":"tpl","MsgID":1700827132819554304,"ErrorCode":0,"ErrorStatus":"success"}}`,
  );
  assert.deepEqual(json?.List, {
    TemplateId: 'tpl',
    MsgID: '1700827132819554304',
    ErrorCode: '0',
    ErrorStatus: 'success',
  });
  assert.equal(parseMessage('not a push'), null);
  assert.equal(parseMessage('{"truncated": '), null);
  assert.equal(parseMessage('[1, 2]'), null);
  assert.equal(parseMessage('<other>x</other>'), null);
});

test('follow, with and without a QR scene', () => {
  const plain = `wechat:${OPENID}:${CREATE_TIME}:subscribe`;
  assert.deepEqual(shape(facts(event('subscribe'))), [
    {
      kind: 'call',
      call: {
        type: 'track',
        event: 'wechat_follow',
        properties: { appId: APP_ID },
        anonymousId: OPENID,
        context: CONTEXT,
        timestamp: NOW,
      },
      dedupeKey: `${plain}/track:wechat_follow`,
    },
    {
      kind: 'call',
      call: {
        type: 'identify',
        traits: { consent: { wechat: true } },
        anonymousId: OPENID,
        context: CONTEXT,
        timestamp: NOW,
      },
      dedupeKey: `${plain}/identify`,
    },
  ]);
  const scanned = facts(
    event('subscribe', '<EventKey><![CDATA[qrscene_poster_1111]]></EventKey><Ticket>T</Ticket>'),
  );
  const calls = scanned.map((f) =>
    f.kind === 'call' ? [f.call.type, f.call.event, f.call.properties] : f.kind,
  );
  assert.deepEqual(calls, [
    ['track', 'wechat_follow', { appId: APP_ID, scene: 'poster_1111' }],
    ['identify', undefined, undefined],
    ['track', 'qr_scan', { appId: APP_ID, scene: 'poster_1111', newFollower: true }],
  ]);
  assert.equal(scanned[2].dedupeKey, `${plain}:qrscene_poster_1111/track:qr_scan`);
});

test('unfollow: track, consent withdrawn, and an opt-out of the openid', () => {
  const key = `wechat:${OPENID}:${CREATE_TIME}:unsubscribe`;
  assert.deepEqual(shape(facts(event('unsubscribe'))), [
    {
      kind: 'call',
      call: {
        type: 'track',
        event: 'wechat_unfollow',
        properties: { appId: APP_ID },
        anonymousId: OPENID,
        context: CONTEXT,
        timestamp: NOW,
      },
      dedupeKey: `${key}/track:wechat_unfollow`,
    },
    {
      kind: 'call',
      call: {
        type: 'identify',
        traits: { consent: { wechat: false } },
        anonymousId: OPENID,
        context: CONTEXT,
        timestamp: NOW,
      },
      dedupeKey: `${key}/identify`,
    },
    { kind: 'optout', channel: 'wechat', address: OPENID, at: NOW, dedupeKey: `${key}/optout` },
  ]);
});

test('scan, location, menu click and view become track calls', () => {
  const track = (xml: string) =>
    facts(xml).map((f) => (f.kind === 'call' ? { event: f.call.event, properties: f.call.properties } : f));
  assert.deepEqual(track(event('SCAN', '<EventKey><![CDATA[store_hz_01]]></EventKey><Ticket>T</Ticket>')), [
    { event: 'qr_scan', properties: { appId: APP_ID, scene: 'store_hz_01' } },
  ]);
  assert.deepEqual(
    track(
      event(
        'LOCATION',
        '<Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision>',
      ),
    ),
    [
      {
        event: 'wechat_location',
        properties: { latitude: 23.137466, longitude: 113.352425, precision: 119.38504 },
      },
    ],
  );
  assert.deepEqual(track(event('CLICK', '<EventKey><![CDATA[MENU_COUPON]]></EventKey>')), [
    { event: 'wechat_menu_click', properties: { key: 'MENU_COUPON' } },
  ]);
  assert.deepEqual(
    track(event('VIEW', '<EventKey><![CDATA[https://shop.example.cn/]]></EventKey><MenuId>3</MenuId>')),
    [{ event: 'wechat_menu_view', properties: { url: 'https://shop.example.cn/' } }],
  );
});

test('TEMPLATESENDJOBFINISH: a receipt of the wechat provider', () => {
  const status = (value: string, tag = 'MsgID') =>
    facts(
      event(
        'TEMPLATESENDJOBFINISH',
        `<${tag}>2806937797364006913</${tag}><Status><![CDATA[${value}]]></Status>`,
      ),
    );
  assert.deepEqual(status('success'), [
    {
      kind: 'receipt',
      provider: 'wechat',
      providerId: '2806937797364006913',
      delivered: true,
      code: 'success',
      at: NOW,
      dedupeKey: 'wechat:2806937797364006913/receipt',
    },
  ]);
  const blocked = status('failed:user block', 'MsgId');
  assert.equal(blocked.length, 1);
  assert.equal(blocked[0].kind === 'receipt' && blocked[0].delivered, false);
  assert.equal(blocked[0].kind === 'receipt' && blocked[0].code, 'failed:user block');
});

test('subscription popup and change events: one subscription fact and one track per template', () => {
  const popup = event(
    'subscribe_msg_popup_event',
    '<SubscribeMsgPopupEvent>' +
      '<List><TemplateId><![CDATA[tpl_coupon]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List>' +
      '<List><TemplateId><![CDATA[tpl_order]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List>' +
      '<List><TemplateId><![CDATA[tpl_banned]]></TemplateId><SubscribeStatusString><![CDATA[ban]]></SubscribeStatusString><PopupScene>2</PopupScene></List>' +
      '</SubscribeMsgPopupEvent>',
  );
  const key = `wechat:${OPENID}:${CREATE_TIME}:subscribe_msg_popup_event`;
  const got = facts(popup);
  assert.deepEqual(
    got.filter((f) => f.kind === 'subscription'),
    [
      {
        kind: 'subscription',
        appId: APP_ID,
        openId: OPENID,
        templateId: 'tpl_coupon',
        status: 'accept',
        at: NOW,
        dedupeKey: `${key}/subscription:tpl_coupon`,
      },
      {
        kind: 'subscription',
        appId: APP_ID,
        openId: OPENID,
        templateId: 'tpl_order',
        status: 'reject',
        at: NOW,
        dedupeKey: `${key}/subscription:tpl_order`,
      },
    ],
  );
  assert.deepEqual(
    got.flatMap((f) => (f.kind === 'call' ? [[f.call.event, f.call.properties]] : [])),
    [
      ['wechat_subscription', { templateId: 'tpl_coupon', status: 'accept' }],
      ['wechat_subscription', { templateId: 'tpl_order', status: 'reject' }],
      ['wechat_subscription', { templateId: 'tpl_banned', status: 'ban' }],
    ],
  );
  // A change event with a single item; the same in a Mini Program's JSON push, List an object.
  const change = facts(
    event(
      'subscribe_msg_change_event',
      '<SubscribeMsgChangeEvent><List><TemplateId><![CDATA[tpl_coupon]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgChangeEvent>',
    ),
  );
  const fromJson = facts(
    JSON.stringify({
      ToUserName: 'gh_mini',
      FromUserName: OPENID,
      CreateTime: CREATE_TIME,
      MsgType: 'event',
      Event: 'subscribe_msg_change_event',
      List: { TemplateId: 'tpl_coupon', SubscribeStatusString: 'reject' },
    }),
  );
  assert.deepEqual(fromJson, change);
  assert.deepEqual(
    change.map((f) => f.kind),
    ['call', 'subscription'],
  );
});

test('subscribe_msg_sent_event: a miniprogram receipt per item', () => {
  const sent = facts(
    JSON.stringify({
      FromUserName: OPENID,
      CreateTime: CREATE_TIME,
      MsgType: 'event',
      Event: 'subscribe_msg_sent_event',
      List: [
        { TemplateId: 'tpl_coupon', MsgID: '1700827132819554304', ErrorCode: '0', ErrorStatus: 'success' },
        {
          TemplateId: 'tpl_order',
          MsgID: '1700827132819554305',
          ErrorCode: '20001',
          ErrorStatus: 'failed:user refuse',
        },
      ],
    }),
  );
  const key = `wechat:${OPENID}:${CREATE_TIME}:subscribe_msg_sent_event`;
  assert.deepEqual(sent, [
    {
      kind: 'receipt',
      provider: 'miniprogram',
      providerId: '1700827132819554304',
      delivered: true,
      code: 'success',
      at: NOW,
      dedupeKey: `${key}/receipt:1700827132819554304`,
    },
    {
      kind: 'receipt',
      provider: 'miniprogram',
      providerId: '1700827132819554305',
      delivered: false,
      code: 'failed:user refuse',
      at: NOW,
      dedupeKey: `${key}/receipt:1700827132819554305`,
    },
  ]);
  const xml = event(
    'subscribe_msg_sent_event',
    '<SubscribeMsgSentEvent><List><TemplateId><![CDATA[tpl_coupon]]></TemplateId><MsgID>1700827132819554304</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent>',
  );
  assert.deepEqual(facts(xml), [sent[0]]);
});

test('user messages, unknown events and malformed pushes give no facts', () => {
  const text = `<xml><FromUserName><![CDATA[${OPENID}]]></FromUserName><CreateTime>${CREATE_TIME}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>hi</Content><MsgId>1</MsgId></xml>`;
  assert.deepEqual(facts(text), []);
  assert.deepEqual(facts(event('view_miniprogram', '<EventKey>pages/index</EventKey>')), []);
  assert.deepEqual(facts('<xml><MsgType>event</MsgType><Event>subscribe</Event></xml>'), []);
  assert.deepEqual(facts(event('SCAN')), [], 'a scan without a scene');
  const odd: WechatMessage = {
    MsgType: 'event',
    Event: 'subscribe_msg_popup_event',
    FromUserName: OPENID,
    CreateTime: '1',
    List: ['x'],
  };
  assert.deepEqual(wechatFacts(odd, APP_ID), []);
  assert.deepEqual(wechatFacts({ MsgType: ['event'], Event: { x: '1' } }, APP_ID), []);
});

test('a push WeChat retries (no answer in time) gives the same dedupeKeys and messageIds', async (t) => {
  const callback = await callbackServer(t, 1);
  const wx = await startWechatFake({ pushTimeoutMs: 200 });
  t.after(() => wx.close());
  const xml = event('subscribe', '<EventKey><![CDATA[qrscene_poster_1111]]></EventKey>');
  const answer = await wx.postEvent(callback.url, xml, KEYS);
  assert.deepEqual(answer, { status: 200, body: 'success', attempts: 2 });
  assert.equal(callback.received.length, 2);
  const [first, second] = callback.received.map(({ body, query }) => {
    const opened = openMessage(body, query, KEYS);
    assert.ok(opened.ok);
    return facts(opened.plaintext);
  });
  assert.deepEqual(first, second);
  const ids = first.map((f) => (f.kind === 'call' ? f.call.messageId : f.dedupeKey));
  assert.equal(new Set(ids).size, first.length, 'distinct ids within one push');
  assert.equal(new Set(first.map((f) => f.dedupeKey)).size, first.length);
  // Parsing twice gives the same facts too (nothing random, nothing time-dependent).
  assert.deepEqual(facts(xml), first);
});
