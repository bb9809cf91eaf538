import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

let t: TestEngine;
before(async () => {
  t = await startTestEngine();
});
after(() => t.close());

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const HOUR = 3_600_000;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { authorization: basic(KEYS.write), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function user(id: string, limit = 200) {
  await t.settle();
  const res = await t.request('GET', `/v1/users/${encodeURIComponent(id)}?limit=${limit}`);
  return res;
}

describe('short paths, CORS and browser bodies', () => {
  it('serves every short path as its long form', async () => {
    const at = '2026-11-20T10:00:00.000Z';
    const calls: [string, object][] = [
      ['/v1/i', { userId: 'short', traits: { plan: 'pro' }, timestamp: at }],
      ['/v1/t', { userId: 'short', event: 'clicked', timestamp: at }],
      ['/v1/p', { userId: 'short', name: 'Home', timestamp: at }],
      ['/v1/s', { userId: 'short', name: 'Cart', timestamp: at }],
      ['/v1/g', { userId: 'short', groupId: 'acme', traits: { seats: 5 }, timestamp: at }],
      ['/v1/a', { userId: 'short', previousId: 'short-anon', timestamp: at }],
      ['/v1/b', { batch: [{ type: 'track', userId: 'short', event: 'batched', timestamp: at }] }],
    ];
    for (const [path, body] of calls) assert.equal((await post(path, body)).status, 200, path);
    const { body } = await user('short');
    const names = body.events.map((e: { event: string }) => e.event).sort();
    assert.deepEqual(names, ['alias', 'batched', 'clicked', 'group', 'identify', 'page', 'screen']);
    assert.deepEqual(body.profile.groups.acme.traits, { seats: 5 });
    assert.deepEqual(body.profile.anonymousIds, ['short-anon']);
  });

  it('answers preflights on the ingestion routes only, and takes text/plain bodies with the key inside', async () => {
    const preflight = await fetch(`${t.url}/v1/t`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://shop.test:8080',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://shop.test:8080');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);

    // Read and manage routes stay closed to other origins.
    const read = await fetch(`${t.url}/v1/users/x`, {
      method: 'OPTIONS',
      headers: { origin: 'http://shop.test:8080', 'access-control-request-method': 'GET' },
    });
    assert.equal(read.headers.get('access-control-allow-origin'), null);
    const readGet = await fetch(`${t.url}/v1/status`, {
      headers: { origin: 'http://shop.test:8080', authorization: basic(KEYS.read) },
    });
    assert.equal(readGet.status, 200);
    assert.equal(readGet.headers.get('access-control-allow-origin'), null);

    // sendBeacon: text/plain, no Authorization, the write key in the body.
    const beacon = await fetch(`${t.url}/v1/b`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'http://shop.test:8080' },
      body: JSON.stringify({
        writeKey: KEYS.write,
        batch: [{ type: 'page', anonymousId: 'beacon-anon', userId: null, name: 'Landing' }],
      }),
    });
    assert.equal(beacon.status, 200);
    assert.equal(beacon.headers.get('access-control-allow-origin'), 'http://shop.test:8080');
    const { body } = await user('beacon-anon');
    assert.equal(body.events[0].name, 'Landing');

    // The SDK's metrics post is accepted and dropped, without a key.
    const metrics = await fetch(`${t.url}/v1/m`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"series":[]}',
    });
    assert.equal(metrics.status, 200);
  });

  it('refuses origins not listed when TIDELINE_CORS_ORIGINS names some', async () => {
    const listed = await startTestEngine({ corsOrigins: ['http://shop.test:8080'] });
    try {
      const ask = (origin: string) =>
        fetch(`${listed.url}/v1/b`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        });
      assert.equal((await ask('http://shop.test:8080')).status, 204);
      const other = await ask('http://evil.test');
      assert.equal(other.status, 403);
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const simple = await fetch(`${listed.url}/v1/t`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin: 'http://evil.test' },
        body: JSON.stringify({ writeKey: KEYS.write, userId: 'x', event: 'e' }),
      });
      assert.equal(simple.status, 403);
      assert.match(((await simple.json()) as { message: string }).message, /TIDELINE_CORS_ORIGINS/);
    } finally {
      await listed.close();
    }
  });
});

describe('leniency and time', () => {
  it('reads null optional fields and an empty userId as absent', async () => {
    const res = await post('/v1/batch', {
      batch: [
        {
          type: 'track',
          userId: '',
          anonymousId: 'lenient-anon',
          event: 'viewed',
          properties: null,
          context: null,
          integrations: null,
          timestamp: '2026-11-20T10:00:00.000Z',
        },
        { type: 'page', userId: null, anonymousId: 'lenient-anon', name: null, properties: null },
        { type: 'identify', userId: 'lenient', anonymousId: null, traits: null },
      ],
    });
    assert.deepEqual(res.body, { success: true });
    const anon = await user('lenient-anon');
    assert.equal(anon.status, 200);
    assert.deepEqual(anon.body.events.map((e: { event: string }) => e.event).sort(), ['page', 'viewed']);
    assert.equal((await user('lenient')).status, 200);
  });

  it('corrects a skewed client clock by sentAt and keeps the original time', async () => {
    const received = Date.now();
    const fast = received + 2 * HOUR; // the device's clock is 2 hours ahead
    const slow = received - 3 * 24 * HOUR; // this one 3 days behind
    const res = await post('/v1/batch', {
      sentAt: new Date(fast).toISOString(),
      batch: [
        { type: 'track', userId: 'skewed', event: 'fast', timestamp: new Date(fast - 60_000).toISOString() },
        {
          type: 'track',
          userId: 'skewed',
          event: 'slow',
          timestamp: new Date(slow - 60_000).toISOString(),
          sentAt: new Date(slow).toISOString(),
        },
        // 26 hours ahead without sentAt: the clock cannot be corrected, the message is refused.
        {
          type: 'track',
          userId: 'skewed',
          event: 'future',
          timestamp: new Date(received + 26 * HOUR).toISOString(),
          sentAt: new Date(received).toISOString(),
        },
      ],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.accepted, 2);
    assert.deepEqual(res.body.rejected[0].index, 2);
    assert.equal(res.body.rejected[0].errors[0].pointer, '/batch/2/timestamp');
    const { body } = await user('skewed');
    for (const name of ['fast', 'slow']) {
      const e = body.events.find((x: { event: string }) => x.event === name);
      const corrected = Date.parse(e.timestamp);
      // A minute before arrival, give or take the request's own time.
      assert.ok(Math.abs(corrected - (received - 60_000)) < 5_000, `${name}: ${e.timestamp}`);
      assert.equal(e.late, undefined, `${name} is not late: it drives decisions`);
      const original = Date.parse(e.originalTimestamp);
      assert.equal(original, name === 'fast' ? fast - 60_000 : slow - 60_000);
    }
  });

  it('takes RudderStack originalTimestamp as the client time', async () => {
    const received = Date.now();
    const res = await post('/v1/batch', {
      batch: [
        {
          type: 'track',
          userId: 'rudder-time',
          event: 'opened',
          originalTimestamp: new Date(received - HOUR).toISOString(),
          sentAt: new Date(received).toISOString(),
        },
      ],
    });
    assert.deepEqual(res.body, { success: true });
    const { body } = await user('rudder-time');
    assert.equal(body.events[0].timestamp, new Date(received - HOUR).toISOString());
  });

  it('keeps group traits per group, readable on the profile', async () => {
    await post('/v1/batch', {
      batch: [
        { type: 'group', userId: 'member', groupId: 'acme', traits: { name: 'Acme', plan: 'free' } },
        { type: 'group', userId: 'member', groupId: 'globex', traits: { name: 'Globex' } },
      ],
    });
    await post('/v1/group', { userId: 'member', groupId: 'acme', traits: { plan: 'enterprise' } });
    const missing = await post('/v1/g', { userId: 'member', traits: {} });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.errors[0].pointer, '/groupId');
    const { body } = await user('member');
    assert.deepEqual(body.profile.groups.acme.traits, { name: 'Acme', plan: 'enterprise' });
    assert.deepEqual(body.profile.groups.globex.traits, { name: 'Globex' });
    // Group traits describe the group, not the user.
    assert.equal(body.profile.traits.name, undefined);
    const stored = body.events.filter((e: { event: string }) => e.event === 'group');
    assert.deepEqual(stored.map((e: { groupId: string }) => e.groupId).sort(), ['acme', 'acme', 'globex']);
  });
});

describe('one bad message never drops good ones', () => {
  const batchOf = (prefix: string) => {
    const batch: object[] = [];
    for (let i = 0; i < 100; i++) {
      batch.push({
        type: 'track',
        messageId: `${prefix}-${i}`,
        userId: `${prefix}-${i % 7}`,
        event: 'item_viewed',
        properties: { i },
        timestamp: '2026-11-20T10:00:00.000Z',
      });
    }
    // Message 42 has no event name.
    delete (batch[42] as { event?: string }).event;
    return batch;
  };
  const appliedFor = async (prefix: string) => {
    await t.settle();
    let n = 0;
    for (let u = 0; u < 7; u++) {
      const res = await t.request('GET', `/v1/users/${prefix}-${u}?limit=100`);
      if (res.status === 200) n += res.body.profile.eventCount;
    }
    return n;
  };

  it('applies the 99 valid messages and lists the invalid one with its pointer (200)', async () => {
    const res = await post('/v1/batch', { batch: batchOf('partial') });
    assert.equal(res.status, 200);
    assert.equal(res.body.accepted, 99);
    assert.deepEqual(res.body.rejected, [
      { index: 42, errors: [{ pointer: '/batch/42/event', message: 'is required for track calls' }] },
    ]);
    assert.equal(await appliedFor('partial'), 99);
    // Sent again (an SDK retry): nothing is applied twice.
    await post('/v1/batch', { batch: batchOf('partial') });
    assert.equal(await appliedFor('partial'), 99);

    // The debugger lists the rejected message with its reason.
    const log = await t.request('GET', '/v1/ingest/messages?status=rejected&limit=50');
    assert.equal(log.status, 200);
    const entry = log.body.messages.find((m: { messageId?: string }) => m.messageId === 'partial-42');
    assert.ok(entry, 'the rejected message is in the debugger');
    assert.equal(entry.index, 42);
    assert.equal(entry.errors[0].pointer, '/batch/42/event');
    assert.equal(entry.message.userId, 'partial-0');
  });

  it('refuses the whole batch in strict mode (400) and applies nothing', async () => {
    const byQuery = await post('/v1/batch?strict=true', { batch: batchOf('strict') });
    assert.equal(byQuery.status, 400);
    assert.equal(byQuery.body.errors[0].pointer, '/batch/42/event');
    const byHeader = await post('/v1/b', { batch: batchOf('strict') }, { 'x-tideline-strict': 'true' });
    assert.equal(byHeader.status, 400);
    assert.equal(await appliedFor('strict'), 0);
  });

  it('keeps 400, 413 and 401 for faults of the envelope', async () => {
    assert.equal((await post('/v1/batch', '{"batch": [')).status, 400);
    assert.equal((await post('/v1/batch', { batch: 'no' })).status, 400);
    const big = {
      batch: [{ type: 'track', userId: 'x', event: 'e', properties: { s: 'x'.repeat(520_000) } }],
    };
    assert.equal((await post('/v1/batch', big)).status, 413);
    assert.equal((await post('/v1/batch', { batch: [] }, { authorization: basic('nope') })).status, 401);
    // The refused request is in the debugger, with its status.
    const log = await t.request('GET', '/v1/ingest/messages?status=rejected&limit=10');
    assert.equal(log.body.messages[0].httpStatus, 401);
    assert.equal(log.body.messages[0].path, '/v1/batch');
  });

  it('streams received messages to a live tail', async () => {
    const controller = new AbortController();
    const res = await fetch(`${t.url}/v1/ingest/messages/stream`, {
      headers: { authorization: basic(KEYS.read) },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = '';
    await post('/v1/t', { userId: 'tailed', event: 'live_event' });
    while (!seen.includes('live_event')) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    controller.abort();
    const data = seen.split('\n').find((l) => l.startsWith('data: ') && l.includes('live_event')) ?? '';
    const entry = JSON.parse(data.slice(6));
    assert.equal(entry.status, 'accepted');
    assert.equal(entry.path, '/v1/t');
    assert.equal(entry.type, 'track');
    // The ingest key cannot read it.
    const denied = await fetch(`${t.url}/v1/ingest/messages`, {
      headers: { authorization: basic(KEYS.write) },
    });
    assert.equal(denied.status, 403);
  });
});
