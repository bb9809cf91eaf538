import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import { FcmProvider, type FcmOptions } from '../../channels/fcm/provider.ts';
import type { PushMessage } from '../../channels/provider.ts';
import { isDeleteToken } from '../../channels/push/delete-token.ts';
import { createServiceAccount, startFcmFake } from '../../dev/fakes/fcm.ts';
import { pushDelivery } from '../helpers/push.ts';

const fake = await startFcmFake({ slowMs: 1000 });
after(() => fake.close());

function fcm(options: Partial<FcmOptions> = {}): FcmProvider {
  return new FcmProvider({
    serviceAccount: fake.serviceAccount,
    baseUrl: fake.url,
    timeoutMs: 2000,
    ...options,
  });
}

const delivery = (token: string, message: Partial<PushMessage> = {}, messageId?: string) =>
  pushDelivery({ platform: 'android', provider: 'fcm' }, token, message, messageId);

/** A local port nothing listens on (connections are refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const received = (token: string) => fake.received.filter((r) => r.message.token === token);

test('a transactional push is accepted and rendered for Android and APNs', async () => {
  const now = Date.now();
  const provider = fcm({ now: () => now, analyticsLabel: () => 'spring_sale' });
  const result = await provider.send(
    delivery(
      'tok-ok',
      { imageUrl: 'https://img.example/a.png', deepLink: 'app://offers/1', ttlSeconds: 3600 },
      'remind:u1:hello:2',
    ),
  );
  assert.equal(result.class, 'OK');
  assert.match(result.providerId!, /^projects\/tideline-test\/messages\/0:/);
  assert.equal(received('tok-ok').length, 1);
  assert.deepEqual(received('tok-ok')[0].message, {
    token: 'tok-ok',
    notification: { title: 'Hello', body: 'World', image: 'https://img.example/a.png' },
    data: { offer: 'spring', deepLink: 'app://offers/1' },
    android: { priority: 'high', ttl: '3600s', collapse_key: 'remind:u1:hello:2' },
    apns: {
      headers: {
        'apns-priority': '10',
        'apns-collapse-id': 'remind:u1:hello:2',
        'apns-expiration': String(Math.floor(now / 1000) + 3600),
      },
    },
    fcm_options: { analytics_label: 'spring_sale' },
  });
});

test('a marketing push goes at normal priority; a collapse key over 64 bytes is hashed for APNs', async () => {
  const longKey = 'campaign:'.padEnd(80, 'x');
  assert.equal(
    (await fcm().send(delivery('tok-mkt', { category: 'marketing', collapseKey: longKey }))).class,
    'OK',
  );
  const { android, apns, notification } = received('tok-mkt')[0].message;
  assert.deepEqual(notification, { title: 'Hello', body: 'World' });
  assert.deepEqual(android, { priority: 'normal', collapse_key: longKey });
  assert.equal(apns.headers['apns-priority'], '5');
  assert.match(apns.headers['apns-collapse-id'], /^[0-9a-f]{64}$/);
});

test('one access token serves every send; concurrent first sends share one grant', async () => {
  const provider = fcm();
  const grants = fake.counts.tokenGrants;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => provider.send(delivery(`tok-shared-${i}`))),
  );
  assert.ok(results.every((r) => r.class === 'OK'));
  for (let i = 0; i < 5; i++) await provider.send(delivery('tok-shared-again'));
  assert.equal(fake.counts.tokenGrants, grants + 1);
});

test('the access token is replaced 5 minutes before it expires', async () => {
  let now = Date.now();
  const provider = fcm({ now: () => now });
  const grants = fake.counts.tokenGrants;
  await provider.send(delivery('tok-clock'));
  now += (3599 - 300 - 1) * 1000;
  await provider.send(delivery('tok-clock'));
  assert.equal(fake.counts.tokenGrants, grants + 1);
  now += 2000;
  assert.equal((await provider.send(delivery('tok-clock'))).class, 'OK');
  assert.equal(fake.counts.tokenGrants, grants + 2);
});

test('a 401 UNAUTHENTICATED refreshes the token once and retries the send once', async () => {
  const provider = fcm();
  await provider.send(delivery('tok-warm'));
  fake.revokeAccessTokens();
  const [grants, sends] = [fake.counts.tokenGrants, fake.counts.sends];
  assert.equal((await provider.send(delivery('tok-revoked'))).class, 'OK');
  assert.equal(fake.counts.tokenGrants, grants + 1);
  assert.equal(fake.counts.sends, sends + 2);
  assert.equal(received('tok-revoked').length, 1);

  // Many sends refused at once still make one refresh.
  fake.revokeAccessTokens();
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => provider.send(delivery(`tok-rv-${i}`))),
  );
  assert.ok(results.every((r) => r.class === 'OK'));
  assert.equal(fake.counts.tokenGrants, grants + 2);
});

test('a token refused again after the refresh is REFRESH_TOKEN, after exactly one retry', async () => {
  const provider = fcm();
  await provider.send(delivery('tok-warm'));
  const [grants, sends] = [fake.counts.tokenGrants, fake.counts.sends];
  fake.refuseAllAccessTokens(true);
  try {
    const result = await provider.send(delivery('tok-refused'));
    assert.equal(result.class, 'REFRESH_TOKEN');
    assert.equal(result.code, 'UNAUTHENTICATED');
  } finally {
    fake.refuseAllAccessTokens(false);
  }
  assert.equal(fake.counts.tokenGrants, grants + 1);
  assert.equal(fake.counts.sends, sends + 2);
});

test('each FCM error maps to its class; Retry-After is honoured', async () => {
  const provider = fcm();
  const cases = [
    ['dev-unregistered', 'PERM_RECIPIENT', 'delete-token:UNREGISTERED', undefined],
    ['dev-invalid', 'PERM_RECIPIENT', 'delete-token:INVALID_ARGUMENT', undefined],
    ['dev-mismatch', 'PERM_RECIPIENT', 'delete-token:SENDER_ID_MISMATCH', undefined],
    ['dev-quota', 'RETRY_LATER', 'QUOTA_EXCEEDED', 30_000],
    ['dev-unavailable', 'RETRY', 'UNAVAILABLE', 30_000],
    ['dev-internal', 'RETRY', 'INTERNAL', undefined],
    ['dev-thirdparty', 'PERM_CONFIG', 'THIRD_PARTY_AUTH_ERROR', undefined],
  ] as const;
  await provider.send(delivery('tok-warm'));
  const grants = fake.counts.tokenGrants;
  for (const [token, cls, code, retryAfterMs] of cases) {
    const result = await provider.send(delivery(token));
    assert.deepEqual(
      { class: result.class, code: result.code, retryAfterMs: result.retryAfterMs },
      { class: cls, code, retryAfterMs },
      token,
    );
    assert.equal(isDeleteToken(result), cls === 'PERM_RECIPIENT', token);
    assert.ok(!result.detail?.includes(token), 'the detail never carries the address');
    assert.equal(received(token).length, 0);
  }
  // THIRD_PARTY_AUTH_ERROR is a 401 too, but about the APNs key in Firebase: no token refresh.
  assert.equal(fake.counts.tokenGrants, grants);
});

test('a bad message is PERM_MESSAGE and keeps the token', async () => {
  const provider = fcm();
  const reserved = await provider.send(delivery('tok-msg', { data: { from: 'x' } }));
  assert.deepEqual([reserved.class, reserved.code], ['PERM_MESSAGE', 'INVALID_ARGUMENT']);
  const big = await provider.send(delivery('tok-msg', { body: 'x'.repeat(5000) }));
  assert.deepEqual(
    [big.class, big.code, big.detail],
    ['PERM_MESSAGE', 'INVALID_ARGUMENT', 'Message is too big'],
  );
  assert.equal(received('tok-msg').length, 0);
});

test('setup faults: a wrong project or key is PERM_CONFIG, a token endpoint down is RETRY; nothing is sent', async () => {
  const sends = fake.counts.sends;
  const project = await fcm({ projectId: 'someone-else' }).send(delivery('tok-setup'));
  assert.deepEqual([project.class, project.code], ['PERM_CONFIG', 'PERMISSION_DENIED']);
  assert.equal(fake.counts.sends, sends + 1);

  const wrongKey = createServiceAccount(fake.tokenUri).serviceAccount;
  const refused = await fcm({ serviceAccount: wrongKey }).send(delivery('tok-setup'));
  assert.deepEqual(
    [refused.class, refused.code, refused.detail],
    ['PERM_CONFIG', 'invalid_grant', 'Invalid JWT Signature.'],
  );
  const down = await fcm({ tokenUri: `http://127.0.0.1:${await closedPort()}/token` }).send(
    delivery('tok-setup'),
  );
  assert.deepEqual([down.class, down.code], ['RETRY', 'TOKEN_ENDPOINT']);
  assert.equal(fake.counts.sends, sends + 1);
  assert.equal(received('tok-setup').length, 0);
});

test('a timeout after sending is UNKNOWN, and the fake holds exactly one message', async () => {
  const provider = fcm({ timeoutMs: 200 });
  await provider.send(delivery('tok-warm'));
  const sends = fake.counts.sends;
  const result = await provider.send(delivery('dev-slow'));
  assert.deepEqual([result.class, result.code], ['UNKNOWN', 'TIMEOUT']);
  assert.equal(fake.counts.sends, sends + 1);
  assert.equal(received('dev-slow').length, 1);
});

test('an FCM that cannot be reached is RETRY: nothing was sent', async () => {
  const result = await fcm({ baseUrl: `http://127.0.0.1:${await closedPort()}` }).send(delivery('tok-down'));
  assert.deepEqual([result.class, result.code], ['RETRY', 'ECONNREFUSED']);
});

test('a token of another provider is not sent', async () => {
  const d = delivery('tok-apns');
  const result = await fcm().send({ ...d, address: { ...d.address, provider: 'apns' } });
  assert.deepEqual([result.class, result.code], ['PERM_MESSAGE', 'PROVIDER_MISMATCH']);
  assert.equal(received('tok-apns').length, 0);
});

test('sends reuse kept-alive connections', async () => {
  const provider = fcm();
  await provider.send(delivery('tok-warm'));
  const connections = fake.counts.connections;
  for (let i = 0; i < 100; i++) assert.equal((await provider.send(delivery('tok-keepalive'))).class, 'OK');
  assert.ok(
    fake.counts.connections - connections <= 1,
    `${fake.counts.connections - connections} new connections`,
  );
});
