import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

/** JSON nested `depth` times, built as text (JSON.stringify itself recurses). */
const nested = (open: string, inner: string, close: string, depth: number) =>
  open.repeat(depth) + inner + close.repeat(depth);

describe('limits over the API: 400 with a pointer, nothing changed', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine();
  });
  after(() => t.close());

  it('refuses a 3,000-deep condition and 5,000-deep properties with 400 and the pointer, never 500', async () => {
    const leaf = '{"fact":"profile","path":"$.traits.city","operator":"equal","value":"x"}';
    const condition = nested('{"all":[', leaf, ']}', 3000);
    for (const [path, rawBody] of [
      ['/v1/segments', `{"id":"deep","name":"Deep","condition":${condition}}`],
      ['/v1/segments/preview', `{"condition":${condition}}`],
    ]) {
      const res = await t.request('POST', path, { key: KEYS.admin, rawBody });
      assert.equal(res.status, 400, path);
      assert.match(res.body.errors[0].pointer, /^\/condition(\/all\/0)+(\/all)?$/);
      assert.match(res.body.errors[0].message, /nested deeper than 64 levels/);
    }
    assert.equal((await t.request('GET', '/v1/segments/deep', { key: KEYS.admin })).status, 404);

    const properties = nested('{"a":', '1', '}', 5000);
    for (const [path, rawBody, pointer] of [
      ['/v1/track', `{"userId":"deep-u","event":"x","properties":${properties}}`, /^\/properties(\/a)+$/],
      ['/v1/identify', `{"userId":"deep-u","traits":${properties}}`, /^\/traits(\/a)+$/],
      [
        '/v1/batch',
        `{"batch":[{"type":"track","userId":"deep-u","event":"x","properties":${properties}}]}`,
        /^\/batch\/0\/properties(\/a)+$/,
      ],
    ] as const) {
      const res = await t.request('POST', path, { key: KEYS.write, rawBody });
      assert.equal(res.status, 400, path);
      assert.match(res.body.errors[0].pointer, pointer);
    }
    // 60 levels are fine.
    const fine = await t.request('POST', '/v1/track', {
      key: KEYS.write,
      rawBody: `{"userId":"deep-ok","event":"x","properties":${nested('{"a":', '1', '}', 60)}}`,
    });
    assert.equal(fine.status, 200);
    await t.settle();
    assert.equal((await t.request('GET', '/v1/users/deep-u')).status, 404, 'nothing applied');
  });

  it('refuses numeric user ids beyond 2^53 (they would merge users), takes safe ones', async () => {
    for (const raw of ['9007199254740993', '9007199254740992', '1e21', '1.5']) {
      const res = await t.request('POST', '/v1/track', {
        key: KEYS.write,
        rawBody: `{"userId":${raw},"event":"x"}`,
      });
      assert.equal(res.status, 400, raw);
      assert.deepEqual(
        res.body.errors.map((e: { pointer: string }) => e.pointer),
        ['/userId'],
      );
    }
    const batch = await t.request('POST', '/v1/batch', {
      key: KEYS.write,
      rawBody: '{"batch":[{"type":"identify","anonymousId":18014398509481984,"traits":{}}]}',
    });
    // In a batch the message is refused alone: listed with its pointer in a 200 (strict mode: 400).
    assert.equal(batch.status, 200);
    assert.equal(batch.body.rejected[0].errors[0].pointer, '/batch/0/anonymousId');
    assert.equal(
      (
        await t.request('POST', '/v1/track', {
          key: KEYS.write,
          rawBody: '{"userId":9007199254740991,"event":"x"}',
        })
      ).status,
      200,
    );
  });

  it('quotes the limit of the route in a 413', async () => {
    const big = 'x'.repeat(40 * 1024);
    const single = await t.request('POST', '/v1/track', {
      key: KEYS.write,
      body: { userId: 'u', event: 'x', properties: { big } },
    });
    assert.equal(single.status, 413);
    assert.equal(single.body.message, 'request body too large: this route takes at most 32 KB');
    const definition = await t.request('POST', '/v1/segments', {
      key: KEYS.admin,
      body: { id: 'big', name: 'x'.repeat(300 * 1024) },
    });
    assert.equal(definition.status, 413);
    assert.equal(definition.body.message, 'request body too large: this route takes at most 256 KB');
  });

  it('accepts the Basic and Bearer schemes in any case', async () => {
    for (const scheme of ['basic', 'BASIC', 'Basic']) {
      const res = await fetch(`${t.url}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `${scheme} ${Buffer.from(`${KEYS.write}:`).toString('base64')}`,
        },
        body: JSON.stringify({ userId: 'case-u', event: 'x' }),
      });
      assert.equal(res.status, 200, scheme);
    }
    const bearer = await fetch(`${t.url}/v1/status`, { headers: { authorization: `bearer ${KEYS.read}` } });
    assert.equal(bearer.status, 200);
    const wrong = await fetch(`${t.url}/v1/status`, { headers: { authorization: 'basic bm9wZTo=' } });
    assert.equal(wrong.status, 401);
  });

  it('refuses a value model scheduled more often than once an hour', async () => {
    const model = (cron: string) => ({
      id: 'value-model',
      schedule: { cron, tz: 'Asia/Shanghai' },
      orderEvent: 'order_paid',
      amountProperty: 'amount',
      window: 'P365D',
    });
    const every = await t.request('PUT', '/v1/value-model', { key: KEYS.admin, body: model('* * * * * *') });
    assert.equal(every.status, 400);
    assert.equal(every.body.errors[0].pointer, '/schedule/cron');
    assert.match(every.body.errors[0].message, /at most once every 1 hour/);
    const daily = await t.request('PUT', '/v1/value-model', { key: KEYS.admin, body: model('0 3 * * *') });
    assert.equal(daily.status, 200, JSON.stringify(daily.body));
  });
});
