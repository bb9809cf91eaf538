import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AliyunSmsProvider, type AliyunSmsConfig } from '../../channels/aliyun-sms/provider.ts';
import { SMS_PUSH_ANSWER, smsReportFacts, smsUpFacts } from '../../channels/aliyun-sms/receipts.ts';
import { MAX_SMS_CHARACTERS, smsDestination, smsLength } from '../../templates/sms-segments.ts';
import { sendDates } from '../../channels/aliyun-sms/shanghai.ts';
import type { Delivery, SmsMessage } from '../../channels/provider.ts';
import { startAliyunSmsFake, type AliyunSmsFake, type FakeSmsOutcome } from '../../dev/fakes/aliyun-sms.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Scripted beyond the default 0001-0009, by the number's last four digits. */
const extra: Record<string, FakeSmsOutcome> = {
  '1001': { kind: 'business', code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发小时级流控Permits:5' },
  '1002': { kind: 'business', code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发天级流控Permits:10' },
  '1003': { kind: 'business', code: 'isv.DAY_LIMIT_CONTROL', message: '触发日发送限额' },
  '1004': { kind: 'business', code: 'isv.MONTH_LIMIT_CONTROL', message: '触发月发送限额' },
  '1005': { kind: 'business', code: 'isp.SYSTEM_ERROR', message: 'isp.SYSTEM_ERROR' },
  '1006': { kind: 'business', code: 'isv.SOMETHING_NEW', message: '未知错误' },
  '1007': { kind: 'gateway', status: 400, code: 'SignatureNonceUsed', message: 'The nonce has been used.' },
  '1008': { kind: 'gateway', status: 502, code: 'BadGateway', message: 'Bad gateway.' },
  '1009': { kind: 'gateway', status: 400, code: 'InvalidParameter', message: 'Bad parameter.' },
  '1010': { kind: 'gateway', status: 503, code: 'Throttling', message: 'Throttled.' },
  '1011': { kind: 'gateway', status: 403, code: 'Forbidden.RAM', message: 'User not authorized.' },
  '1012': { kind: 'business', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: '非法手机号 13912341012' },
  '1013': { kind: 'raw', status: 200, body: '{"code":"OK","bizId":"1^0"}' },
  '1014': { kind: 'raw', status: 200, body: '<html>proxy error</html>', contentType: 'text/html' },
  '1015': {
    kind: 'raw',
    status: 400,
    body: '<?xml version="1.0"?><Error><Code>InvalidAccessKeyId.Inactive</Code><Message>inactive</Message></Error>',
    contentType: 'text/xml;charset=utf-8',
  },
};

let fake: AliyunSmsFake;
/** QuerySendDetails keeps its messages waiting for a receipt. */
let undelivered: AliyunSmsFake;

before(async () => {
  fake = await startAliyunSmsFake({
    slowAnswerMs: 600,
    deliveredAfterMs: 100,
    script: (phone) => extra[phone.slice(-4)],
  });
  undelivered = await startAliyunSmsFake({ deliveredAfterMs: 60 * MINUTE });
});

after(async () => {
  await fake.close();
  await undelivered.close();
});

function provider(overrides: Partial<AliyunSmsConfig> = {}, to: AliyunSmsFake = fake): AliyunSmsProvider {
  return new AliyunSmsProvider({
    accessKeyId: to.accessKeyId,
    accessKeySecret: to.accessKeySecret,
    endpoint: to.endpoint,
    protocol: 'http',
    connectTimeout: 300,
    readTimeout: 300,
    ...overrides,
  });
}

let ids = 0;
function delivery(phone: string, overrides: Partial<SmsMessage> = {}): Delivery<string, SmsMessage> {
  return {
    messageId: `msg-${++ids}`,
    address: phone,
    firstAttemptAt: Date.now(),
    message: { signName: '阿里云', templateCode: 'SMS_153055065', params: { code: '1234' }, ...overrides },
  };
}

function takenWith(outId: string) {
  return fake.accepted.filter((m) => m.outId === outId);
}

test('a send reaches the fake signed, with OutId, signature, template and params, and is OK with its BizId', async () => {
  const d = delivery('13900001234', {
    params: { name: '张三', code: '1234' },
    text: `【阿里云】${'您'.repeat(67)}`,
  });
  const result = await provider().send(d);
  const [taken] = takenWith(d.messageId);
  assert.deepEqual(taken, {
    bizId: taken.bizId,
    phone: '13900001234',
    outId: d.messageId,
    signName: '阿里云',
    templateCode: 'SMS_153055065',
    params: { name: '张三', code: '1234' },
    at: taken.at,
  });
  assert.deepEqual(result, { class: 'OK', providerId: taken.bizId, code: 'OK', detail: 'OK', segments: 2 });
});

test('a template without variables sends no TemplateParam', async () => {
  const d = delivery('13900001235', { params: {} });
  assert.equal((await provider().send(d)).class, 'OK');
  assert.deepEqual(takenWith(d.messageId)[0].params, {});
});

test('every answer of the table is classified, and none of the refused messages is taken', async () => {
  const now = Date.parse('2026-03-15T17:00:00Z'); // 01:00 on March 16 in Shanghai
  const sms = provider({ now: () => now });
  const cases: [string, string, string | undefined, number?][] = [
    ['0001', 'PERM_RECIPIENT', 'isv.MOBILE_NUMBER_ILLEGAL'],
    ['0002', 'RETRY_LATER', 'isv.BUSINESS_LIMIT_CONTROL', MINUTE],
    ['1001', 'RETRY_LATER', 'isv.BUSINESS_LIMIT_CONTROL', HOUR],
    ['1002', 'RETRY_LATER', 'isv.BUSINESS_LIMIT_CONTROL', 24 * HOUR],
    // Until the next midnight, and the first of the next month, on Beijing time (not UTC's).
    ['1003', 'RETRY_LATER', 'isv.DAY_LIMIT_CONTROL', 23 * HOUR],
    ['1004', 'RETRY_LATER', 'isv.MONTH_LIMIT_CONTROL', Date.parse('2026-03-31T16:00:00Z') - now],
    ['0003', 'RETRY_LATER', 'Throttling.User', 1_500],
    ['1010', 'RETRY_LATER', 'Throttling'],
    ['0005', 'PERM_CONFIG', 'isv.AMOUNT_NOT_ENOUGH'],
    ['0007', 'PERM_CONFIG', 'isv.SMS_TEMPLATE_ILLEGAL'],
    ['1011', 'PERM_CONFIG', 'Forbidden.RAM'],
    ['0009', 'PERM_MESSAGE', 'isv.TEMPLATE_MISSING_PARAMETERS'],
    ['1006', 'PERM_MESSAGE', 'isv.SOMETHING_NEW'],
    ['1009', 'PERM_MESSAGE', 'InvalidParameter'],
    ['0006', 'UNKNOWN', 'InternalError'],
    // A 200 the SDK cannot read (camelCase keys, not JSON): it may have been taken.
    ['1013', 'UNKNOWN', undefined],
    ['1014', 'UNKNOWN', undefined],
    ['1015', 'PERM_CONFIG', 'InvalidAccessKeyId.Inactive'],
    ['1005', 'UNKNOWN', 'isp.SYSTEM_ERROR'],
    ['0008', 'RETRY', 'ServiceUnavailable'],
    ['1007', 'RETRY', 'SignatureNonceUsed'],
    ['1008', 'RETRY', 'BadGateway'],
  ];
  for (const [suffix, expected, code, retryAfterMs] of cases) {
    const d = delivery(`1390000${suffix}`, { text: '【阿里云】短信' });
    const result = await sms.send(d);
    assert.equal(result.class, expected, suffix);
    assert.equal(result.code, code, suffix);
    assert.equal(result.retryAfterMs, retryAfterMs, suffix);
    assert.ok(result.detail, suffix);
    assert.equal(result.providerId, undefined, suffix);
    assert.equal(result.segments, undefined, `${suffix}: nothing billed`);
    assert.deepEqual(takenWith(d.messageId), [], suffix);
  }
});

test('details never carry a full phone number', async () => {
  const result = await provider().send(delivery('13912341012'));
  assert.equal(result.detail, '非法手机号 *******1012');
});

test('a wrong secret or an unknown key is a configuration fault', async () => {
  const wrongSecret = await provider({ accessKeySecret: 'not-the-secret' }).send(delivery('13900001236'));
  assert.equal(wrongSecret.class, 'PERM_CONFIG');
  assert.equal(wrongSecret.code, 'SignatureDoesNotMatch');
  const wrongKey = await provider({ accessKeyId: 'someone-else' }).send(delivery('13900001237'));
  assert.equal(wrongKey.class, 'PERM_CONFIG');
  assert.equal(wrongKey.code, 'InvalidAccessKeyId.NotFound');
  assert.equal(fake.accepted.filter((m) => m.phone === '13900001236' || m.phone === '13900001237').length, 0);
});

test('a refused connection is safe to retry: nothing was sent', async () => {
  const result = await provider({ endpoint: '127.0.0.1:1' }).send(delivery('13900001238'));
  assert.equal(result.class, 'RETRY');
  assert.equal(result.code, 'ECONNREFUSED');
  assert.doesNotMatch(result.detail ?? '', /13900001238/);
});

test('a timeout is UNKNOWN; reconcile finds the message, so it is not sent twice', async () => {
  const sms = provider();
  const d = delivery('13900000004');
  const started = Date.now();
  const result = await sms.send(d);
  assert.equal(result.class, 'UNKNOWN');
  assert.match(result.detail ?? '', /RequestTimeoutError/);
  assert.doesNotMatch(result.detail ?? '', /13900000004/);
  assert.ok(Date.now() - started < 600, 'the client gave up before the answer');
  // The fake took it though, and QuerySendDetails shows it: the dispatcher does not send again.
  assert.deepEqual(await sms.reconcile(d), { class: 'OK', code: 'DELIVERED', detail: 'SendStatus 3' });
  assert.equal(takenWith(d.messageId).length, 1);
});

test('reconcile answers null for a message the provider never took', async () => {
  const sms = provider();
  const failed = delivery('13900000006'); // InternalError, not taken
  assert.equal((await sms.send(failed)).class, 'UNKNOWN');
  assert.equal(await sms.reconcile(failed), null);
  // Another message to a number with messages on record is not mistaken for it.
  const taken = delivery('13900001239');
  assert.equal((await sms.send(taken)).class, 'OK');
  assert.equal(await sms.reconcile({ ...taken, messageId: 'msg-never-sent' }), null);
  // The dispatcher reconciles without a message when it can no longer render it.
  const unrendered = { ...taken, message: undefined } as unknown as Delivery<string, SmsMessage>;
  assert.equal((await sms.reconcile(unrendered))?.class, 'OK');
});

test('reconcile pages through the day, reports a message still waiting, and counts its segments', async () => {
  const sms = provider({}, undelivered);
  const phone = '13700001234';
  const sent: Delivery<string, SmsMessage>[] = [];
  for (let i = 0; i < 53; i++) sent.push(delivery(phone, { text: 'x'.repeat(71) }));
  for (const d of sent) assert.equal((await sms.send(d)).class, 'OK');
  // The last one is on page 2 of QuerySendDetails (50 a page); still waiting for its receipt.
  assert.deepEqual(await sms.reconcile(sent[52]), { class: 'OK', detail: 'SendStatus 1', segments: 2 });
  assert.equal(await sms.reconcile(delivery(phone)), null);
});

test('reconcile searches from the first attempt’s date to today', async () => {
  const sms = provider();
  const d = delivery('13900001240');
  assert.equal((await sms.send(d)).class, 'OK');
  // First tried two days ago (then retried later): today's send is still found.
  assert.equal((await sms.reconcile({ ...d, firstAttemptAt: Date.now() - 48 * HOUR }))?.class, 'OK');
  // 23:55 in Shanghai: the next day too; noon: that day only.
  assert.deepEqual(sendDates(Date.parse('2026-03-15T15:55:00Z'), Date.parse('2026-03-15T16:05:00Z')), [
    '20260315',
    '20260316',
  ]);
  assert.deepEqual(sendDates(Date.parse('2026-03-15T04:00:00Z'), Date.parse('2026-03-15T04:10:00Z')), [
    '20260315',
  ]);
});

test('reconcile throws when the query itself fails', async () => {
  await assert.rejects(
    provider({ accessKeySecret: 'not-the-secret' }).reconcile(delivery('13900001241')),
    /QuerySendDetails failed: SignatureDoesNotMatch/,
  );
  await assert.rejects(
    provider({ endpoint: '127.0.0.1:1' }).reconcile(delivery('13900001241')),
    (e: Error) => {
      assert.match(e.message, /QuerySendDetails failed: ECONNREFUSED/);
      assert.doesNotMatch(e.message, /13900001241/);
      return true;
    },
  );
});

test('a batch of 3 goes out in one SendBatchSms: one OutId, per-recipient signature and params', async () => {
  const batchId = `batch-${++ids}`;
  const phones = ['13800003101', '13800003102', '13800003103'];
  const deliveries = phones.map((phone, i) => ({
    ...delivery(phone, {
      signName: i === 2 ? '阿里云通信' : '阿里云',
      params: { name: `用户${i}` },
      text: '【阿里云】hi',
    }),
    batchId,
  }));
  const results = await provider().sendBatch(deliveries);
  const taken = takenWith(batchId);
  assert.deepEqual(
    taken.map((m) => [m.phone, m.signName, m.params.name, m.templateCode]),
    [
      ['13800003101', '阿里云', '用户0', 'SMS_153055065'],
      ['13800003102', '阿里云', '用户1', 'SMS_153055065'],
      ['13800003103', '阿里云通信', '用户2', 'SMS_153055065'],
    ],
  );
  assert.equal(new Set(taken.map((m) => m.bizId)).size, 1);
  assert.deepEqual(
    results,
    phones.map(() => ({ class: 'OK', providerId: taken[0].bizId, code: 'OK', detail: 'OK', segments: 1 })),
  );
  // Any delivery of the batch reconciles through the batch's OutId.
  assert.equal((await provider().reconcile(deliveries[1]))?.class, 'OK');
});

test('a batch shares its one answer, and refuses what SendBatchSms cannot take', async () => {
  const sms = provider();
  const refused = await sms.sendBatch([delivery('13800002001'), delivery('13800000001')]);
  assert.deepEqual(
    refused.map((r) => r.class),
    ['PERM_RECIPIENT', 'PERM_RECIPIENT'],
  );
  assert.deepEqual(await sms.sendBatch([]), []);
  const many = Array.from({ length: 101 }, (_, i) => delivery(`138000${String(i).padStart(5, '0')}`));
  await assert.rejects(sms.sendBatch(many), /at most 100 deliveries, got 101/);
  await assert.rejects(
    sms.sendBatch([delivery('13800002002'), delivery('13800002003', { templateCode: 'SMS_2' })]),
    /one template, got SMS_153055065, SMS_2/,
  );
  await assert.rejects(
    sms.sendBatch([{ ...delivery('13800002004'), batchId: 'b1' }, delivery('13800002005')]),
    /share one batchId/,
  );
});

test('sends reuse kept-alive connections', async () => {
  const sms = provider();
  await sms.send(delivery('13900001242'));
  const opened = fake.connections();
  for (let i = 0; i < 20; i++) await sms.send(delivery('13900001243'));
  assert.ok(fake.connections() - opened <= 1, `${fake.connections() - opened} new connections`);
});

test('segments: domestic 70 / 67 on every character', () => {
  const cn = (n: number) => smsLength('验'.repeat(n));
  assert.deepEqual(cn(70), { characters: 70, segments: 1, encoding: 'ucs2' });
  assert.deepEqual(cn(71), { characters: 71, segments: 2, encoding: 'ucs2' });
  assert.deepEqual(cn(134), { characters: 134, segments: 2, encoding: 'ucs2' });
  assert.deepEqual(cn(135), { characters: 135, segments: 3, encoding: 'ucs2' });
  assert.equal(smsLength('a'.repeat(160)).segments, 3, 'latin letters count one each too');
  assert.equal(smsLength('😀'.repeat(70)).segments, 1, 'an emoji is one character');
  assert.equal(MAX_SMS_CHARACTERS, 500);
});

test('segments: international GSM-7 160 / 153, extended characters count two, anything else 70 / 67', () => {
  const intl = (text: string) => smsLength(text, 'intl');
  assert.deepEqual(intl('a'.repeat(160)), { characters: 160, segments: 1, encoding: 'gsm7' });
  assert.deepEqual(intl('a'.repeat(161)), { characters: 161, segments: 2, encoding: 'gsm7' });
  assert.deepEqual(intl(`${'a'.repeat(159)}€`), { characters: 161, segments: 2, encoding: 'gsm7' });
  assert.deepEqual(intl(`${'a'.repeat(158)}{`), { characters: 160, segments: 1, encoding: 'gsm7' });
  assert.deepEqual(intl(`${'a'.repeat(69)}ç`), { characters: 70, segments: 1, encoding: 'ucs2' });
  assert.deepEqual(intl(`${'a'.repeat(70)}验`), { characters: 71, segments: 2, encoding: 'ucs2' });
  assert.deepEqual(
    ['13900001234', '+8613900001234', '008613900001234', '8613900001234', '85200001234', '12025550123x'].map(
      smsDestination,
    ),
    ['cn', 'cn', 'cn', 'cn', 'intl', 'intl'],
  );
});

test('an international number is billed on GSM-7 rules', async () => {
  const d = delivery('85212345678', { text: 'a'.repeat(161) });
  assert.equal((await provider().send(d)).segments, 2);
});

test('SmsReport pushes become receipts keyed by biz_id and phone, timed in Shanghai', () => {
  const facts = smsReportFacts([
    {
      phone_number: '13811110000',
      send_time: '2026-03-16 01:00:00',
      report_time: '2026-03-16 01:00:05',
      success: true,
      err_code: 'DELIVERED',
      err_msg: '用户接收成功',
      sms_size: '2',
      biz_id: '900619746937^0',
      out_id: 'msg-1',
    },
    {
      phone_number: '13811110001',
      report_time: '2026-03-16 01:02:00',
      success: false,
      err_code: 'MK:0001',
      sms_size: 1,
      biz_id: '900619746938^0',
      out_id: '',
    },
  ]);
  assert.deepEqual(facts, [
    {
      kind: 'receipt',
      provider: 'aliyun-sms',
      messageId: 'msg-1',
      providerId: '900619746937^0',
      address: '13811110000',
      delivered: true,
      code: 'DELIVERED',
      segments: 2,
      at: Date.parse('2026-03-15T17:00:05Z'),
      dedupeKey: 'aliyun-sms:report:900619746937^0:13811110000',
    },
    {
      kind: 'receipt',
      provider: 'aliyun-sms',
      providerId: '900619746938^0',
      address: '13811110001',
      delivered: false,
      code: 'MK:0001',
      segments: 1,
      at: Date.parse('2026-03-15T17:02:00Z'),
      dedupeKey: 'aliyun-sms:report:900619746938^0:13811110001',
    },
  ]);
  assert.deepEqual(SMS_PUSH_ANSWER, { code: 0, msg: '接收成功' });
});

test('SmsReport pushes of the wrong shape are refused, naming the element and the field', () => {
  const good = {
    phone_number: '13811110000',
    report_time: '2026-03-16 01:00:05',
    success: true,
    biz_id: 'b1',
  };
  assert.throws(() => smsReportFacts({ ...good }), /SmsReport push: expected a JSON array, got object/);
  assert.throws(() => smsReportFacts([good, 'x']), /SmsReport push \[1\]: expected an object/);
  assert.throws(
    () => smsReportFacts([good, { ...good, biz_id: undefined }]),
    /\[1\]\.biz_id: expected a non-empty/,
  );
  assert.throws(() => smsReportFacts([{ ...good, success: 'true' }]), /\[0\]\.success: expected a boolean/);
  assert.throws(
    () => smsReportFacts([{ ...good, report_time: '2026-03-16T01:00:05Z' }]),
    /\[0\]\.report_time/,
  );
  assert.throws(() => smsReportFacts([{ ...good, sms_size: 'two' }]), /\[0\]\.sms_size: expected a count/);
  assert.deepEqual(smsReportFacts([]), []);
});

test('SmsUp replies that mean stop become opt-outs; other replies are dropped', () => {
  const reply = (content: string, extra: Record<string, unknown> = {}) => ({
    phone_number: '13811112222',
    content,
    send_time: '2026-03-16 09:30:00',
    dest_code: '1234',
    sequence_id: '77',
    ...extra,
  });
  const stops = ['R', ' td ', 'ＴＤ', 't', 'N', '退订', '拒收', 'stop', 'Unsubscribe'];
  const kept = ['好的', '回复R', 'R退订', 'T 退订', ''];
  const facts = smsUpFacts([...stops, ...kept].map((c) => reply(c)));
  assert.equal(facts.length, stops.length);
  assert.deepEqual(facts[0], {
    kind: 'optout',
    channel: 'sms',
    address: '13811112222',
    at: Date.parse('2026-03-16T01:30:00Z'),
    dedupeKey: 'aliyun-sms:up:13811112222:77',
  });
  // Older pushes carry sequence_id as a number; without one the send time keys the reply.
  assert.equal(smsUpFacts([reply('T', { sequence_id: 78 })])[0].dedupeKey, 'aliyun-sms:up:13811112222:78');
  assert.equal(
    smsUpFacts([reply('T', { sequence_id: undefined })])[0].dedupeKey,
    'aliyun-sms:up:13811112222:2026-03-16 09:30:00',
  );
  assert.throws(() => smsUpFacts(null), /SmsUp push: expected a JSON array, got null/);
  assert.throws(() => smsUpFacts([reply('R', { content: 1 })]), /SmsUp push \[0\]\.content/);
  assert.throws(() => smsUpFacts([reply('R'), reply('R', { phone_number: '' })]), /\[1\]\.phone_number/);
  assert.throws(() => smsUpFacts([reply('R', { sequence_id: {} })]), /\[0\]\.sequence_id/);
});
