import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import { apnsId } from '../../channels/apns/notification.ts';
import { ApnsProvider, type ApnsOptions } from '../../channels/apns/provider.ts';
import type { PushMessage } from '../../channels/provider.ts';
import { isDeleteToken } from '../../channels/push/delete-token.ts';
import { createApnsKey, startApnsFake } from '../../dev/fakes/apns.ts';
import { pushDelivery } from '../helpers/push.ts';

const fake = await startApnsFake({ slowMs: 1000 });
const providers: ApnsProvider[] = [];
after(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await fake.close();
});

function apns(options: Partial<ApnsOptions> = {}): ApnsProvider {
  const provider = new ApnsProvider({
    ...fake.credentials,
    topic: fake.topic,
    production: true,
    address: fake.address,
    port: fake.port,
    rejectUnauthorized: false,
    timeoutMs: 2000,
    ...options,
  });
  providers.push(provider);
  return provider;
}
const shared = apns();

const delivery = (token: string, message: Partial<PushMessage> = {}, messageId?: string) =>
  pushDelivery({ platform: 'ios', provider: 'apns' }, token, message, messageId);

const received = (token: string) => fake.received.filter((r) => r.token === token);

test('a transactional push is accepted with the headers and payload APNs expects', async () => {
  const now = Date.now();
  const provider = apns({ now: () => now });
  const result = await provider.send(
    delivery(
      'a1b2c3-ok',
      { imageUrl: 'https://img.example/a.png', deepLink: 'app://offers/1', ttlSeconds: 3600 },
      'remind:u1:hello:2',
    ),
  );
  assert.deepEqual(result, { class: 'OK', providerId: apnsId('remind:u1:hello:2') });
  assert.match(result.providerId!, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const [got] = received('a1b2c3-ok');
  assert.deepEqual(got.headers, {
    'apns-topic': 'com.tideline.app',
    'apns-push-type': 'alert',
    'apns-priority': '10',
    'apns-id': apnsId('remind:u1:hello:2'),
    'apns-collapse-id': 'remind:u1:hello:2',
    'apns-expiration': String(Math.floor(now / 1000) + 3600),
  });
  assert.deepEqual(got.payload, {
    aps: { alert: { title: 'Hello', body: 'World' }, 'mutable-content': 1 },
    offer: 'spring',
    deepLink: 'app://offers/1',
    imageUrl: 'https://img.example/a.png',
  });
});

test('a marketing push goes at priority 5; a collapse key over 64 bytes is hashed', async () => {
  const longKey = 'campaign:'.padEnd(80, 'x');
  assert.equal(
    (await shared.send(delivery('a1b2c3-mkt', { category: 'marketing', collapseKey: longKey }))).class,
    'OK',
  );
  const [got] = received('a1b2c3-mkt');
  assert.equal(got.headers['apns-priority'], '5');
  assert.match(got.headers['apns-collapse-id'], /^[0-9a-f]{64}$/);
  assert.equal(got.headers['apns-expiration'], undefined);
  assert.deepEqual(got.payload.aps, { alert: { title: 'Hello', body: 'World' } });
});

test('each APNs answer maps to its class, in one request (node-apn does not retry)', async () => {
  const cases = [
    ['dev-unregistered', 'PERM_RECIPIENT', 'delete-token:Unregistered'],
    ['dev-invalid', 'PERM_RECIPIENT', 'delete-token:BadDeviceToken'],
    ['dev-topic', 'PERM_RECIPIENT', 'delete-token:DeviceTokenNotForTopic'],
    ['dev-toomany', 'RETRY_LATER', 'TooManyRequests'],
    ['dev-unavailable', 'RETRY', 'ServiceUnavailable'],
    ['dev-internal', 'RETRY', 'InternalServerError'],
  ] as const;
  for (const [token, cls, code] of cases) {
    const requests = fake.counts.requests;
    const result = await shared.send(delivery(token));
    assert.deepEqual([result.class, result.code], [cls, code], token);
    assert.equal(isDeleteToken(result), cls === 'PERM_RECIPIENT', token);
    assert.equal(fake.counts.requests, requests + 1, `${token}: one request`);
  }
  const gone = await shared.send(delivery('dev-unregistered'));
  assert.match(gone.detail!, /^invalid since \d{4}-\d\d-\d\dT/);
});

test('a payload over 4 KB is PERM_MESSAGE; a wrong bundle id or key is PERM_CONFIG', async () => {
  const big = await shared.send(delivery('a1b2c3-big', { body: 'x'.repeat(5000) }));
  assert.deepEqual([big.class, big.code], ['PERM_MESSAGE', 'PayloadTooLarge']);
  const topic = await apns({ topic: 'com.other.app' }).send(delivery('a1b2c3-cfg'));
  assert.deepEqual([topic.class, topic.code], ['PERM_CONFIG', 'TopicDisallowed']);
  const stranger = createApnsKey();
  const key = await apns({ key: stranger.key }).send(delivery('a1b2c3-cfg'));
  assert.deepEqual([key.class, key.code], ['PERM_CONFIG', 'InvalidProviderToken']);
  assert.equal(received('a1b2c3-big').length + received('a1b2c3-cfg').length, 0);
});

test('403 ExpiredProviderToken: node-apn signs a new JWT and the push is retried once', async () => {
  const provider = apns();
  await provider.send(delivery('a1b2c3-warm'));
  fake.expireProviderTokens();
  const [requests, jwts] = [fake.counts.requests, fake.providerTokens.length];
  assert.equal((await provider.send(delivery('a1b2c3-expired'))).class, 'OK');
  assert.equal(fake.counts.requests, requests + 2);
  assert.equal(fake.providerTokens.length, jwts + 1, 'a new JWT');
  assert.equal(received('a1b2c3-expired').length, 1);

  // Still expired after the new JWT: REFRESH_TOKEN after exactly one retry.
  fake.expireEveryProviderToken(true);
  try {
    const result = await provider.send(delivery('a1b2c3-expired-again'));
    assert.deepEqual([result.class, result.code], ['REFRESH_TOKEN', 'ExpiredProviderToken']);
  } finally {
    fake.expireEveryProviderToken(false);
  }
  assert.equal(fake.counts.requests, requests + 4);
});

test('a timeout after sending is UNKNOWN, and the fake holds exactly one message', async () => {
  const provider = apns({ timeoutMs: 200 });
  const requests = fake.counts.requests;
  const result = await provider.send(delivery('dev-slow'));
  assert.deepEqual([result.class, result.code], ['UNKNOWN', 'TIMEOUT']);
  assert.equal(fake.counts.requests, requests + 1);
  assert.equal(received('dev-slow').length, 1);
});

test('APNs that cannot be reached is RETRY: nothing was sent', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  const result = await apns({ port, timeoutMs: 200 }).send(delivery('a1b2c3-down'));
  assert.deepEqual([result.class, result.code], ['RETRY', 'ECONNREFUSED']);
});

test('a token of another provider is not sent', async () => {
  const d = delivery('a1b2c3-fcm');
  const result = await shared.send({ ...d, address: { ...d.address, provider: 'fcm' } });
  assert.deepEqual([result.class, result.code], ['PERM_MESSAGE', 'PROVIDER_MISMATCH']);
});

test('pushes share one HTTP/2 session', async () => {
  const provider = apns();
  await provider.send(delivery('a1b2c3-warm'));
  const sessions = fake.counts.sessions;
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => provider.send(delivery(`a1b2c3-many-${i}`))),
  );
  assert.ok(results.every((r) => r.class === 'OK'));
  assert.equal(fake.counts.sessions, sessions);
});
