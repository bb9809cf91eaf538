/** What the template editor shows under a preview: a rendered message against its channel's limits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measure, preheaderOf, smsAsShown } from '../../templates/measure.ts';

describe('measuring a rendered message', () => {
  it('counts an SMS as the phone shows it, with the signature Aliyun puts in front', () => {
    assert.equal(smsAsShown('潮汐优选', '您的订单已发货'), '【潮汐优选】您的订单已发货');
    assert.equal(smsAsShown('潮汐优选', '【潮汐优选】您的订单已发货'), '【潮汐优选】您的订单已发货');
    // 6 for the signature + 64 = 70: one segment; one more character makes two (67 each).
    const [one] = measure('sms', { signName: '潮汐优选', text: '好'.repeat(64) });
    assert.deepEqual([one.value, one.segments, one.problem], [70, 1, undefined]);
    const [two] = measure('sms', { signName: '潮汐优选', text: '好'.repeat(65) });
    assert.deepEqual([two.value, two.segments], [71, 2]);
    const [long] = measure('sms', { signName: '潮汐优选', text: '好'.repeat(495) });
    assert.match(long.problem ?? '', /at most 500 characters, signature included/);
    assert.equal(long.code, 'too_long');
  });

  it("measures an email's subject and the preheader an inbox shows after it", () => {
    assert.equal(
      preheaderOf('<head><style>p{}</style></head><p>Hello&nbsp;Li,</p>\n<p>your <b>cart</b></p>', undefined),
      'Hello Li, your cart',
    );
    const [subject, preheader] = measure('email', { subject: 'x'.repeat(61), html: '<p>Hi</p>' });
    assert.equal(subject.value, 61);
    assert.match(subject.problem ?? '', /about the first 60/);
    assert.equal(subject.code, 'cut');
    assert.deepEqual([preheader.value, preheader.problem], [2, undefined]);
    const [empty, blank] = measure('email', { subject: '', html: '<img src="x">' });
    assert.match(empty.problem ?? '', /no subject/);
    assert.match(blank.problem ?? '', /no visible text/);
  });

  it('checks each WeChat keyword against its type, and a push payload against 4 KB', () => {
    const keys = measure('wechat', { templateId: 't', data: { thing1: '超'.repeat(21), amount2: '¥99.00' } });
    assert.deepEqual(
      keys.map((k) => [k.pointer, k.value, Boolean(k.problem)]),
      [
        ['/data/thing1', 21, true],
        ['/data/amount2', 6, false],
      ],
    );
    const [payload] = measure('push', { title: 'Hi', body: 'x'.repeat(5000), data: {} });
    assert.match(payload.problem ?? '', /at most 4096 bytes/);
  });
});
