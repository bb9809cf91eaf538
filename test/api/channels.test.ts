import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LinkSigner } from '../../channels/links.ts';
import { deliveredReport, startAliyunSmsFake, type AliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { type PushKeys, signedPush } from '../../dev/fakes/wechat.ts';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';
import { CART_SMS } from '../helpers/recipient.ts';

const WECHAT = {
  appId: 'wx_official',
  token: 'callback-token',
  encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
};

const ALIYUN_TOKEN = 'aliyun-push-token';
const ALIYUN_REPORT = `/v1/inbound/aliyun-sms/report?token=${ALIYUN_TOKEN}`;
const ALIYUN_UP = `/v1/inbound/aliyun-sms/up?token=${ALIYUN_TOKEN}`;

const event = (openId: string, at: number, inner: string) =>
  `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[${openId}]]></FromUserName>` +
  `<CreateTime>${Math.floor(at / 1000)}</CreateTime><MsgType><![CDATA[event]]></MsgType>${inner}</xml>`;

/** A workspace folder: one SMS journey on `cart_add`, Aliyun pointed at the fake, a WeChat callback. */
function workspace(fake: AliyunSmsFake): string {
  return workspaceFolder({
    'channels.json': {
      providers: {
        'aliyun-sms': {
          accessKeyId: fake.accessKeyId,
          accessKeySecret: fake.accessKeySecret,
          endpoint: fake.endpoint,
          protocol: 'http',
          callbackToken: ALIYUN_TOKEN,
        },
        wechat: {
          appId: WECHAT.appId,
          secret: 'official-secret',
          baseUrl: 'http://127.0.0.1:9',
          callbackToken: WECHAT.token,
          encodingAESKey: WECHAT.encodingAESKey,
        },
      },
      policy: { promotionalSmsHours: null },
    },
    'templates/cart_sms.json': CART_SMS,
    'journeys/cart.json': {
      id: 'cart',
      version: 1,
      name: 'Cart',
      trigger: { type: 'event', event: 'cart_add' },
      entry: { reentry: 'anytime' },
      steps: [{ id: 'sms', type: 'send', channel: 'sms', template: 'cart_sms' }],
    },
  });
}

describe('channel routes', () => {
  let fake: AliyunSmsFake;
  let t: TestEngine;
  let links: LinkSigner;

  const cartAdd = async (userId: string, phone: string, n: number) => {
    const at = new Date().toISOString();
    const { status } = await t.request('POST', '/v1/batch', {
      key: KEYS.write,
      body: {
        batch: [
          { type: 'identify', userId, traits: { name: '安', phone, consent: { sms: true } }, timestamp: at },
          { type: 'track', userId, event: 'cart_add', messageId: `cart-${userId}-${n}`, timestamp: at },
        ],
      },
    });
    assert.equal(status, 200);
  };
  const sendsTo = (phone: string) => fake.accepted.filter((a) => a.phone === phone);
  const messageIdOf = async (userId: string, nth: number): Promise<string> => {
    let id = '';
    await waitFor(async () => {
      const { body } = await t.request('GET', `/v1/users/${userId}/journeys`, { key: KEYS.read });
      const sent = JSON.stringify(body).match(/"messageId":"(cart:[^"]+)"/g) ?? [];
      id = sent[nth]?.slice(13, -1) ?? '';
      return id !== '';
    });
    return id;
  };

  before(async () => {
    fake = await startAliyunSmsFake();
    const dir = workspace(fake);
    t = await startTestEngine({ workspaceDir: dir, channelsFile: join(dir, 'channels.json') });
    links = new LinkSigner(t.config.publicUrl, t.config.linkSecret);
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  it('takes Aliyun receipts once, and a TD reply suppresses the number', async () => {
    await cartAdd('ann', '13800138000', 1);
    await waitFor(async () => sendsTo('13800138000').length === 1, 10_000, 'the SMS');
    const [sms] = sendsTo('13800138000');
    const messageId = sms.outId!;
    const report = [deliveredReport('13800138000', sms.bizId, messageId)];
    for (let i = 0; i < 2; i++) {
      const answer = await t.request('POST', ALIYUN_REPORT, { key: null, body: report });
      assert.deepEqual(answer, { status: 200, body: { code: 0, msg: '接收成功' } });
    }
    const { body: record } = await t.request('GET', `/v1/messages/${encodeURIComponent(messageId)}`, {
      key: KEYS.read,
    });
    assert.equal(record.status, 'sent');
    assert.equal(record.deliveryCode, 'DELIVERED');
    await waitFor(async () => {
      const { body } = await t.request('GET', '/v1/users/ann', { key: KEYS.read });
      return body.events.filter((e: { event: string }) => e.event === 'message_delivered').length === 1;
    });
    // The journey log shows the message as delivered.
    const { body: journeys } = await t.request('GET', '/v1/users/ann/journeys', { key: KEYS.read });
    assert.match(JSON.stringify(journeys), new RegExp(`"messageId":"${messageId}"[^}]*"status":"delivered"`));

    const bad = await t.request('POST', ALIYUN_REPORT, {
      key: null,
      body: [{ phone_number: 1 }],
    });
    assert.equal(bad.status, 400);

    const reply = [
      {
        phone_number: '13800138000',
        content: 'TD',
        send_time: '2026-11-22 10:01:00',
        dest_code: '1',
        sequence_id: '77',
      },
    ];
    assert.equal((await t.request('POST', ALIYUN_UP, { key: null, body: reply })).status, 200);
    await cartAdd('ann', '13800138000', 2);
    await messageIdOf('ann', 1);
    await waitFor(
      async () => {
        const { body } = await t.request('GET', '/v1/users/ann/journeys', { key: KEYS.read });
        return JSON.stringify(body).includes('suppressed');
      },
      10_000,
      'the second message to be skipped as suppressed',
    );
    assert.equal(sendsTo('13800138000').length, 1, 'nothing more went to a number that replied TD');
    const listed = await t.request('GET', '/v1/suppressions/sms/+86%20138%200013%208000', { key: KEYS.read });
    assert.deepEqual(
      [listed.status, listed.body.reason, listed.body.address],
      [200, 'opt_out', '138****8000'],
    );
  });

  it('refuses an Aliyun push without the token: a forged TD suppresses nothing, a forged receipt changes nothing', async () => {
    await cartAdd('fay', '13800138009', 1);
    await waitFor(async () => sendsTo('13800138009').length === 1, 10_000, 'the SMS');
    const [sms] = sendsTo('13800138009');
    const forgedReceipt = [
      {
        phone_number: '13800138009',
        send_time: '2026-11-22 10:00:01',
        report_time: '2026-11-22 10:00:05',
        success: false,
        err_code: 'UNDELIV',
        err_msg: 'failed',
        sms_size: '1',
        biz_id: sms.bizId,
        out_id: sms.outId,
      },
    ];
    const td = [
      {
        phone_number: '13800138009',
        content: 'TD',
        send_time: '2026-11-22 10:01:00',
        dest_code: '1',
        sequence_id: '78',
      },
    ];
    for (const query of ['', '?token=', '?token=aliyun-push-tokeX', '?token=aliyun-push-token-longer']) {
      const up = await t.request('POST', `/v1/inbound/aliyun-sms/up${query}`, { key: null, body: td });
      assert.equal(up.status, 401, `TD with ${query || 'no token'}`);
      const report = await t.request('POST', `/v1/inbound/aliyun-sms/report${query}`, {
        key: null,
        body: forgedReceipt,
      });
      assert.equal(report.status, 401, `receipt with ${query || 'no token'}`);
    }
    assert.equal(
      (await t.request('GET', '/v1/suppressions/sms/13800138009', { key: KEYS.read })).status,
      404,
      'the number is not suppressed',
    );
    const { body: record } = await t.request('GET', `/v1/messages/${encodeURIComponent(sms.outId!)}`, {
      key: KEYS.read,
    });
    assert.equal(record.deliveryCode, undefined, 'the record holds no forged receipt');
  });

  it("erasing a user removes the channels' records of their messages and the indexes holding the number", async () => {
    await cartAdd('eve', '13800138077', 1);
    await waitFor(async () => sendsTo('13800138077').length === 1, 10_000, 'the SMS');
    const [sms] = sendsTo('13800138077');
    const path = `/v1/messages/${encodeURIComponent(sms.outId!)}`;
    assert.equal((await t.request('GET', path, { key: KEYS.read })).body.profileKey, 'u:eve');
    assert.equal((await t.request('DELETE', '/v1/users/eve', { key: KEYS.admin })).status, 200);
    assert.equal((await t.request('GET', path, { key: KEYS.read })).status, 404);
    // A late receipt (matched by the provider's id and the number) finds nothing to update.
    const receipt = [deliveredReport('13800138077', sms.bizId)];
    assert.equal((await t.request('POST', ALIYUN_REPORT, { key: null, body: receipt })).status, 200);
    assert.equal((await t.request('GET', path, { key: KEYS.read })).status, 404);
  });

  it('redirects a tracked link and records its first click as an event', async () => {
    await cartAdd('bo', '13800138001', 1);
    const messageId = await messageIdOf('bo', 0);
    await waitFor(async () => sendsTo('13800138001').length === 1);
    const url = links.clickUrl({ messageId, url: 'https://shop.example.com/cart?x=1' });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url.replace(t.config.publicUrl, t.url), { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), 'https://shop.example.com/cart?x=1');
    }
    const forged = url.slice(0, -3) + 'AAA';
    assert.equal(
      (await fetch(forged.replace(t.config.publicUrl, t.url), { redirect: 'manual' })).status,
      404,
    );
    await waitFor(async () => {
      const { body } = await t.request('GET', '/v1/users/bo', { key: KEYS.read });
      return body.events.some((e: { event: string }) => e.event === 'message_clicked');
    });
    const { body } = await t.request('GET', '/v1/users/bo', { key: KEYS.read });
    assert.equal(body.events.filter((e: { event: string }) => e.event === 'message_clicked').length, 1);
    const { body: record } = await t.request('GET', `/v1/messages/${encodeURIComponent(messageId)}`, {
      key: KEYS.read,
    });
    assert.equal(typeof record.clickedAt, 'number');
  });

  it("counts the receipt and the click in the journey's report once each, under their step", async () => {
    // ann's message was delivered (its receipt posted twice), bo's clicked (twice), in the tests above.
    await waitFor(async () => {
      const { body } = await t.request('GET', '/v1/reports/journeys/cart', { key: KEYS.read });
      return body.totals.delivered === 1 && body.totals.clicked === 1;
    });
    const { body } = await t.request('GET', '/v1/reports/journeys/cart', { key: KEYS.read });
    const sms = body.steps.find((s: { step: string }) => s.step === 'sms');
    assert.deepEqual([sms.delivered, sms.clicked], [1, 1]);
    assert.deepEqual(
      body.variants.map((v: { template: string; delivered: number }) => [v.template, v.delivered]),
      [['cart_sms', 1]],
    );
  });

  it('unsubscribes with one click (RFC 8058): consent off, address suppressed', async () => {
    const url = links.unsubscribeUrl({ profileKey: 'u:cy', channel: 'email', address: 'cy@example.com' });
    const local = url.replace(t.config.publicUrl, t.url);
    const page = await fetch(local);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /c\*\*\*@example\.com/);
    const res = await fetch(local, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    assert.equal(res.status, 200);
    await waitFor(
      async () => {
        const { status, body } = await t.request('GET', '/v1/users/cy', { key: KEYS.read });
        return status === 200 && (body.profile ?? body).channels?.email?.consent?.granted === false;
      },
      10_000,
      'consent to turn off',
    );
    const suppressed = await t.request('GET', '/v1/suppressions/email/CY@example.com', { key: KEYS.read });
    assert.equal(suppressed.status, 200);
    assert.equal(suppressed.body.reason, 'opt_out');
    assert.equal((await fetch(local.slice(0, -2) + 'xx', { method: 'POST' })).status, 404);
    // The same link again, and re-spelt (padding, an extra part): applied once, however it is spelt.
    const post = (u: string) => fetch(u, { method: 'POST' }).then((r) => r.status);
    assert.equal(await post(local), 200);
    for (const respelt of [`${local}=`, `${local}==`, `${local}.x`, `${local}%3D`])
      assert.equal(await post(respelt), 404, respelt);
    await t.settle();
    const { body: cy } = await t.request('GET', '/v1/users/cy', { key: KEYS.read });
    assert.equal(cy.events.filter((e: { event: string }) => e.event === 'identify').length, 1);
  });

  it('lists a configuration fault as an alert until it is resolved', async () => {
    // The fake answers isv.AMOUNT_NOT_ENOUGH for numbers ending 0005.
    await cartAdd('dee', '13800130005', 1);
    await waitFor(
      async () => {
        const { body } = await t.request('GET', '/v1/channels/alerts', { key: KEYS.read });
        return body.alerts.length === 1;
      },
      10_000,
      'the alert',
    );
    const { body } = await t.request('GET', '/v1/channels/alerts', { key: KEYS.read });
    assert.deepEqual(
      body.alerts.map((a: { id: string; code: string; provider: string }) => [a.id, a.code, a.provider]),
      [['cart:sms', 'isv.AMOUNT_NOT_ENOUGH', 'aliyun-sms']],
    );
    assert.equal((await t.request('DELETE', '/v1/channels/alerts/cart:sms', { key: KEYS.read })).status, 403);
    assert.equal(
      (await t.request('DELETE', '/v1/channels/alerts/cart:sms', { key: KEYS.admin })).status,
      204,
    );
    assert.equal(
      (await t.request('DELETE', '/v1/channels/alerts/cart:sms', { key: KEYS.admin })).status,
      404,
    );
  });

  it('takes WeChat pushes: signed and encrypted, once each, as events and consent', async () => {
    const push = async (xml: string, keys: PushKeys = WECHAT, at = Date.now()) => {
      const { query, body } = signedPush(xml, keys, at);
      const url = new URL(`${t.url}/v1/inbound/wechat/${WECHAT.appId}`);
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
      return { status: res.status, text: await res.text() };
    };
    const now = Date.now();
    const follow = event(
      'oEve',
      now,
      '<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_poster_1111]]></EventKey>',
    );
    assert.deepEqual(await push(follow), { status: 200, text: 'success' });
    // WeChat retries a push it got no answer to: applied once.
    assert.deepEqual(await push(follow), { status: 200, text: 'success' });
    // In plain mode too (a push without encryption is signed the same way).
    const click = event(
      'oEve',
      now + 1000,
      '<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[MENU_COUPON]]></EventKey>',
    );
    assert.equal((await push(click, { token: WECHAT.token, appId: WECHAT.appId })).status, 200);
    assert.equal((await push(click, { ...WECHAT, token: 'forged' })).status, 401);
    assert.equal((await push(click, WECHAT, now - 3_600_000)).status, 401, 'a stale push is a replay');
    // A signed plaintext query used again with another body (the signature does not cover it): refused.
    const signed = signedPush(click, { token: WECHAT.token, appId: WECHAT.appId }, Date.now());
    const replayUrl = new URL(`${t.url}/v1/inbound/wechat/${WECHAT.appId}`);
    for (const [k, v] of Object.entries(signed.query)) replayUrl.searchParams.set(k, v);
    const post = (body: string) =>
      fetch(replayUrl, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
    assert.equal((await post(signed.body)).status, 200);
    assert.equal((await post(signed.body)).status, 200, "WeChat's retry of the same push");
    const forged = event('oVictim', now, '<Event><![CDATA[unsubscribe]]></Event>');
    for (let i = 0; i < 2; i++) {
      const replayed = await post(forged);
      assert.equal(replayed.status, 401);
      assert.equal(((await replayed.json()) as { error: string }).error, 'replayed');
    }
    assert.equal(
      (await t.request('GET', '/v1/suppressions/wechat/oVictim', { key: KEYS.read })).status,
      404,
      'the replayed unsubscribe suppressed nothing',
    );
    const wrongApp = `${t.url}/v1/inbound/wechat/wx_other?signature=x&timestamp=1&nonce=1`;
    assert.equal((await fetch(wrongApp, { method: 'POST', body: follow })).status, 404);

    await waitFor(
      async () => {
        const { status, body } = await t.request('GET', '/v1/users/oEve', { key: KEYS.read });
        return status === 200 && body.events.some((e: { event: string }) => e.event === 'wechat_menu_click');
      },
      10_000,
      'the WeChat events',
    );
    const { body } = await t.request('GET', '/v1/users/oEve', { key: KEYS.read });
    const names = body.events.map((e: { event: string }) => e.event).sort();
    assert.deepEqual(names, ['identify', 'qr_scan', 'wechat_follow', 'wechat_menu_click']);
    assert.equal(
      body.events.find((e: { event: string }) => e.event === 'qr_scan').properties.scene,
      'poster_1111',
    );
    assert.equal(body.profile.channels.wechat.consent.granted, true);

    // URL verification when the address is saved in the WeChat console.
    const echo = signedPush('', { token: WECHAT.token, appId: WECHAT.appId }, Date.now()).query;
    const verify = new URL(`${t.url}/v1/inbound/wechat/${WECHAT.appId}`);
    for (const [k, v] of Object.entries({ ...echo, echostr: 'hello-42' })) verify.searchParams.set(k, v);
    const answer = await fetch(verify);
    assert.deepEqual([answer.status, await answer.text()], [200, 'hello-42']);

    // Unfollowing: consent off and the openid suppressed.
    assert.equal(
      (await push(event('oEve', now + 2000, '<Event><![CDATA[unsubscribe]]></Event>'))).status,
      200,
    );
    await waitFor(async () => {
      const { body: b } = await t.request('GET', '/v1/users/oEve', { key: KEYS.read });
      return b.profile.channels.wechat.consent?.granted === false;
    });
    assert.equal(
      (await t.request('GET', '/v1/suppressions/wechat/oEve', { key: KEYS.read })).body.reason,
      'opt_out',
    );
  });

  it('adds a Mini Program credit per accepted template, once per report', async () => {
    const report = {
      messageId: 'sub-1',
      appId: 'wxapp',
      openId: 'oAnn',
      results: { TPL1: 'accept', TPL2: 'reject' },
    };
    const first = await t.request('POST', '/v1/wechat/subscriptions', { key: KEYS.write, body: report });
    assert.deepEqual(first.body, { applied: 2, duplicates: 0, unmatched: 0 });
    const again = await t.request('POST', '/v1/wechat/subscriptions', { key: KEYS.write, body: report });
    assert.deepEqual(again.body, { applied: 0, duplicates: 2, unmatched: 0 });
    const bad = await t.request('POST', '/v1/wechat/subscriptions', {
      key: KEYS.write,
      body: { appId: 'wxapp', results: { TPL1: 'yes' } },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.errors.map((e: { pointer: string }) => e.pointer),
      ['/messageId', '/openId', '/results/TPL1'],
    );
  });
});

describe('callbacks with only their tokens', () => {
  let t: TestEngine;
  before(async () => {
    const dir = workspaceFolder({
      'channels.json': {
        providers: {
          // No access key: nothing is sent by SMS, and without a callbackToken its pushes are refused.
          'aliyun-sms': { accessKeyId: '${UNSET_ALIYUN_KEY}', accessKeySecret: '${UNSET_ALIYUN_SECRET}' },
          // No AppSecret: nothing is sent, but the callback takes pushes with the Token alone.
          wechat: { appId: 'wx_receive', secret: '${UNSET_WECHAT_SECRET}', callbackToken: 'only-token' },
        },
      },
    });
    t = await startTestEngine({ workspaceDir: dir, channelsFile: join(dir, 'channels.json') });
  });
  after(() => t.close());

  it('refuses Aliyun pushes when no callbackToken is configured', async () => {
    const td = [
      {
        phone_number: '13800138010',
        content: 'TD',
        send_time: '2026-11-22 10:01:00',
        dest_code: '1',
        sequence_id: '79',
      },
    ];
    for (const path of [
      '/v1/inbound/aliyun-sms/up',
      '/v1/inbound/aliyun-sms/up?token=',
      '/v1/inbound/aliyun-sms/report',
    ]) {
      const answer = await t.request('POST', path, { key: null, body: td });
      assert.equal(answer.status, 403, path);
      assert.match(answer.body.msg, /callbackToken/);
    }
    assert.equal(
      (await t.request('GET', '/v1/suppressions/sms/13800138010', { key: KEYS.read })).status,
      404,
    );
  });

  it('takes WeChat pushes with the Token and no AppSecret', async () => {
    const keys = { token: 'only-token', appId: 'wx_receive' };
    const { query, body } = signedPush(
      event('oOnly', Date.now(), '<Event><![CDATA[subscribe]]></Event>'),
      keys,
      Date.now(),
    );
    const url = new URL(`${t.url}/v1/inbound/wechat/wx_receive`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
    assert.deepEqual([res.status, await res.text()], [200, 'success']);
    await waitFor(async () => (await t.request('GET', '/v1/users/oOnly', { key: KEYS.read })).status === 200);
  });
});
