import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import { sendno } from '../../channels/jpush/payload.ts';
import { JpushProvider, type JpushOptions } from '../../channels/jpush/provider.ts';
import type { PushAddress, PushMessage } from '../../channels/provider.ts';
import { isDeleteToken } from '../../channels/push/delete-token.ts';
import { startJpushFake, type JpushFake } from '../../dev/fakes/jpush.ts';
import { pushDelivery } from '../helpers/push.ts';

const fake = await startJpushFake({ slowMs: 1000 });
after(() => fake.close());

function jpush(options: Partial<JpushOptions> = {}, on: JpushFake = fake): JpushProvider {
  return new JpushProvider({
    appKey: on.appKey,
    masterSecret: on.masterSecret,
    apnsProduction: false,
    baseUrl: on.url,
    timeoutMs: 2000,
    ...options,
  });
}
const shared = jpush();

const delivery = (
  token: string,
  message: Partial<PushMessage> = {},
  messageId?: string,
  platform: PushAddress['platform'] = 'android',
) => pushDelivery({ platform, provider: 'jpush' }, token, message, messageId);

const received = (token: string) => fake.received.filter((r) => r.push.audience.registration_id[0] === token);

test('an Android push is accepted: platform, audience, notification and options as JPush expects', async () => {
  const result = await shared.send(
    delivery(
      '1a0018970aa-ok',
      { imageUrl: 'https://img.example/a.png', deepLink: 'app://offers/1', ttlSeconds: 3600 },
      'remind:u1:hello:2',
    ),
  );
  assert.equal(result.class, 'OK');
  const [got] = received('1a0018970aa-ok');
  assert.equal(result.providerId, got.msgId);
  assert.deepEqual(got.push, {
    platform: ['android'],
    audience: { registration_id: ['1a0018970aa-ok'] },
    notification: {
      android: {
        alert: 'World',
        title: 'Hello',
        extras: { offer: 'spring', deepLink: 'app://offers/1' },
        style: 3,
        big_pic_path: 'https://img.example/a.png',
      },
    },
    options: { sendno: sendno('remind:u1:hello:2'), time_to_live: 3600, apns_production: false },
  });
});

test('an iOS push carries the alert dictionary, apns_production and the collapse id', async () => {
  const result = await jpush({ apnsProduction: true }).send(
    delivery('1a0018970ab-ios', { imageUrl: 'https://img.example/b.png' }, 'remind:u2:hello:2', 'ios'),
  );
  assert.equal(result.class, 'OK');
  assert.deepEqual(received('1a0018970ab-ios')[0].push, {
    platform: ['ios'],
    audience: { registration_id: ['1a0018970ab-ios'] },
    notification: {
      ios: {
        alert: { title: 'Hello', body: 'World' },
        sound: 'default',
        extras: { offer: 'spring', imageUrl: 'https://img.example/b.png' },
        'mutable-content': true,
      },
    },
    options: {
      sendno: sendno('remind:u2:hello:2'),
      apns_production: true,
      apns_collapse_id: 'remind:u2:hello:2',
    },
  });
});

test('each JPush error maps to its class', async () => {
  const cases = [
    ['rid-unregistered', 'PERM_RECIPIENT', 'delete-token:1011'],
    ['rid-invalid', 'PERM_RECIPIENT', 'delete-token:1003'],
    ['rid-bigpush', 'RETRY_LATER', '1012'],
    ['rid-volume', 'RETRY_LATER', '2005'],
    ['rid-restricted', 'PERM_CONFIG', '2003'],
    ['rid-internal', 'RETRY', '1000'],
    ['rid-unavailable', 'RETRY', '1030'],
  ] as const;
  for (const [token, cls, code] of cases) {
    const result = await shared.send(delivery(token));
    assert.deepEqual([result.class, result.code], [cls, code], token);
    assert.equal(isDeleteToken(result), cls === 'PERM_RECIPIENT', token);
    assert.equal(received(token).length, 0);
  }
});

test('a bad message is PERM_MESSAGE and keeps the token; bad credentials are PERM_CONFIG', async () => {
  const ttl = await shared.send(delivery('rid-msg', { ttlSeconds: 30 * 86_400 }));
  assert.deepEqual([ttl.class, ttl.code], ['PERM_MESSAGE', '1003']);
  const big = await shared.send(delivery('rid-msg', { body: 'x'.repeat(2500) }, undefined, 'ios'));
  assert.deepEqual([big.class, big.code], ['PERM_MESSAGE', '1005']);
  const secret = await jpush({ masterSecret: 'wrong' }).send(delivery('rid-cfg'));
  assert.deepEqual([secret.class, secret.code], ['PERM_CONFIG', '1004']);
  const key = await jpush({ appKey: 'wrong' }).send(delivery('rid-cfg'));
  assert.deepEqual([key.class, key.code], ['PERM_CONFIG', '1008']);
  assert.equal(received('rid-msg').length + received('rid-cfg').length, 0);
});

test('past the rate quota: 429 code 2002 is RETRY_LATER until X-Rate-Limit-Reset', async () => {
  const limited = await startJpushFake({ rateLimitQuota: 3, rateWindowSeconds: 45 });
  try {
    const provider = jpush({}, limited);
    for (let i = 0; i < 3; i++) assert.equal((await provider.send(delivery(`rid-rate-${i}`))).class, 'OK');
    const result = await provider.send(delivery('rid-rate-3'));
    assert.deepEqual([result.class, result.code], ['RETRY_LATER', '2002']);
    assert.ok(result.retryAfterMs! > 40_000 && result.retryAfterMs! <= 45_000, `${result.retryAfterMs}`);
    assert.equal(limited.received.length, 3);
  } finally {
    await limited.close();
  }
});

test('a timeout after sending is UNKNOWN, and the fake holds exactly one message', async () => {
  const requests = fake.counts.requests;
  const result = await jpush({ timeoutMs: 200 }).send(delivery('rid-slow'));
  assert.deepEqual([result.class, result.code], ['UNKNOWN', 'TIMEOUT']);
  assert.equal(fake.counts.requests, requests + 1);
  assert.equal(received('rid-slow').length, 1);
});

test('JPush that cannot be reached is RETRY: nothing was sent', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  const result = await jpush({ baseUrl: `http://127.0.0.1:${port}` }).send(delivery('rid-down'));
  assert.deepEqual([result.class, result.code], ['RETRY', 'ECONNREFUSED']);
});

test('a token of another provider is not sent', async () => {
  const d = delivery('rid-fcm');
  const result = await shared.send({ ...d, address: { ...d.address, provider: 'fcm' } });
  assert.deepEqual([result.class, result.code], ['PERM_MESSAGE', 'PROVIDER_MISMATCH']);
});

test('sends reuse kept-alive connections', async () => {
  await shared.send(delivery('rid-warm'));
  const connections = fake.counts.connections;
  for (let i = 0; i < 100; i++) assert.equal((await shared.send(delivery('rid-keepalive'))).class, 'OK');
  assert.ok(
    fake.counts.connections - connections <= 1,
    `${fake.counts.connections - connections} new connections`,
  );
});
