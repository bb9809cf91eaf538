import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

const vip = {
  id: 'big_spenders',
  name: 'Big spenders',
  tag: 'big_spender',
  condition: {
    all: [
      {
        fact: 'aggregate',
        params: { event: 'order_paid', fn: 'sum', property: 'amount' },
        operator: 'greaterThanInclusive',
        value: 500,
      },
    ],
  },
};

describe('segments and tag rules over the API: draft, publish, diff, archive', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine();
  });
  after(() => t.close());

  const order = (userId: string, n: number, amount: number) => ({
    userId,
    event: 'order_paid',
    messageId: `${userId}-${n}`,
    properties: { orderId: `${userId}-${n}`, amount },
  });
  const segmentsOf = async (userId: string) =>
    (await t.request('GET', `/v1/users/${userId}`)).body.profile.segments;

  it('rejects an invalid segment with every fault and its pointer, and saves nothing', async () => {
    const res = await t.request('POST', '/v1/segments', {
      key: KEYS.admin,
      body: { id: 'Bad Id', condition: { all: [{ fact: 'weather', operator: 'equal', value: 1 }] } },
    });
    assert.equal(res.status, 400);
    const pointers = res.body.errors.map((e: { pointer: string }) => e.pointer).sort();
    assert.deepEqual(pointers, ['/condition/all/0/fact', '/id', '/name']);
    assert.deepEqual((await t.request('GET', '/v1/segments')).body.segments, []);
  });

  it('a body that is not JSON gets the line and column of the syntax error, and a typo gets a suggestion', async () => {
    const text = '{\n  "id": "vip",\n  "name": "VIP"\n  "version": 1\n}';
    const res = await fetch(`${t.url}/v1/segments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/json' },
      body: text,
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as {
      errors: { pointer: string; message: string; line: number; column: number }[];
    };
    assert.deepEqual(
      body.errors.map(({ line, column }) => ({ line, column })),
      [{ line: 4, column: 3 }],
    );
    assert.match(body.errors[0].message, /^body is not valid JSON: expected ','/);
    const typo = await t.request('POST', '/v1/segments', { key: KEYS.admin, body: { ...vip, conditon: {} } });
    assert.equal(typo.status, 400);
    assert.ok(
      typo.body.errors.some(
        (e: { pointer: string; message: string }) =>
          e.pointer === '/conditon' && /did you mean 'condition'\?/.test(e.message),
      ),
      JSON.stringify(typo.body.errors),
    );
  });

  it('only the manage key writes; the read key reads', async () => {
    assert.equal((await t.request('POST', '/v1/segments', { key: KEYS.read, body: vip })).status, 403);
    assert.equal((await t.request('POST', '/v1/segments', { key: KEYS.write, body: vip })).status, 403);
  });

  it('a draft does nothing until published; publishing puts it to work at once', async () => {
    const draft = await t.request('POST', '/v1/segments', { key: KEYS.admin, body: vip });
    assert.equal(draft.status, 201);
    assert.equal(draft.body.version, 1);
    assert.equal(draft.body.status, 'draft');
    assert.equal(draft.body.document.version, 1);

    await t.request('POST', '/v1/track', { body: order('d-1', 1, 800) });
    await t.settle();
    assert.deepEqual(await segmentsOf('d-1'), []);

    const published = await t.request('POST', '/v1/segments/big_spenders/versions/1/publish', {
      key: KEYS.admin,
    });
    assert.equal(published.status, 200);
    assert.equal(published.body.status, 'published');
    assert.equal(
      (await t.request('POST', '/v1/segments/big_spenders/versions/1/publish', { key: KEYS.admin })).status,
      409,
    );

    await t.request('POST', '/v1/track', { body: order('d-2', 1, 800) });
    await t.settle();
    assert.deepEqual(await segmentsOf('d-2'), ['big_spenders']);
  });

  it('saving after a publish makes version 2; diff shows the change as JSON pointers', async () => {
    const v2 = await t.request('PUT', '/v1/segments/big_spenders', {
      key: KEYS.admin,
      body: { ...vip, id: undefined, condition: { all: [{ ...vip.condition.all[0], value: 1000 }] } },
    });
    assert.equal(v2.status, 200);
    assert.equal(v2.body.version, 2);
    const diff = await t.request('GET', '/v1/segments/big_spenders/diff?from=1&to=2');
    assert.equal(diff.status, 200);
    assert.deepEqual(
      diff.body.changes.filter((c: { path: string }) => c.path !== '/version'),
      [{ op: 'replace', path: '/condition/all/0/value', value: 1000 }],
    );
    const shown = await t.request('GET', '/v1/segments/big_spenders');
    assert.equal(shown.body.live.version, 1);
    assert.deepEqual(
      shown.body.versions.map((v: { version: number; status: string }) => `${v.version}:${v.status}`),
      ['1:published', '2:draft'],
    );
    await t.request('POST', '/v1/segments/big_spenders/versions/2/publish', { key: KEYS.admin });
    await t.request('POST', '/v1/track', { body: order('d-3', 1, 800) });
    await t.settle();
    assert.deepEqual(await segmentsOf('d-3'), [], 'version 2 needs 1,000');
  });

  it('tag rules go through the same cycle; archiving takes one out of work', async () => {
    const rule = {
      id: 'first_order',
      name: 'First order',
      conditions: { all: [{ fact: 'event', path: '$.name', operator: 'equal', value: 'order_paid' }] },
      event: { type: 'add_tags', params: { tags: ['buyer'] } },
    };
    assert.equal((await t.request('POST', '/v1/tag-rules', { key: KEYS.admin, body: rule })).status, 201);
    await t.request('POST', '/v1/tag-rules/first_order/versions/1/publish', { key: KEYS.admin });
    await t.request('POST', '/v1/track', { body: order('d-4', 1, 10) });
    await t.settle();
    assert.deepEqual((await t.request('GET', '/v1/users/d-4')).body.profile.tags, ['buyer']);

    const archived = await t.request('POST', '/v1/tag-rules/first_order/versions/1/archive', {
      key: KEYS.admin,
    });
    assert.equal(archived.body.status, 'archived');
    await t.request('POST', '/v1/track', { body: order('d-5', 1, 10) });
    await t.settle();
    assert.deepEqual((await t.request('GET', '/v1/users/d-5')).body.profile.tags, []);
    assert.equal(
      (await t.request('POST', '/v1/tag-rules/nothing/versions/1/publish', { key: KEYS.admin })).status,
      404,
    );
  });

  it('a publication reaches users who send nothing new: their history is counted and they enter', async () => {
    // Orders before the segment exists: nothing keeps a count of coupon uses yet.
    const coupons = (userId: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        type: 'track',
        userId,
        event: 'coupon_used',
        messageId: `${userId}-coupon-${i}`,
        properties: { couponId: `c${i}` },
      }));
    await t.request('POST', '/v1/batch', { body: { batch: [...coupons('r-1', 3), ...coupons('r-2', 1)] } });
    await t.settle();
    const hunters = {
      id: 'coupon_regulars',
      name: 'Three coupons',
      condition: {
        all: [
          {
            fact: 'aggregate',
            params: { event: 'coupon_used', fn: 'count' },
            operator: 'greaterThanInclusive',
            value: 3,
          },
        ],
      },
    };
    await t.request('POST', '/v1/segments', { key: KEYS.admin, body: hunters });
    await t.request('POST', '/v1/segments/coupon_regulars/versions/1/publish', { key: KEYS.admin });
    await t.settle();
    assert.deepEqual(await segmentsOf('r-1'), ['coupon_regulars']);
    assert.deepEqual(await segmentsOf('r-2'), []);
    const events = (await t.request('GET', '/v1/users/r-1?include=internal&limit=100')).body.events;
    assert.equal(events.filter((e: { event: string }) => e.event === 'segment_entered').length, 1);
    // And the rebuilt count keeps counting from there.
    await t.request('POST', '/v1/batch', { body: { batch: coupons('r-2', 3).slice(1) } });
    await t.settle();
    assert.deepEqual(await segmentsOf('r-2'), ['coupon_regulars']);
  });

  it('the lifecycle config goes through the API too: faults with pointers, then publish and recompute', async () => {
    const bad = await t.request('PUT', '/v1/lifecycle', {
      key: KEYS.admin,
      body: { id: 'other', newFor: 'P', activeWithin: 5, activity: { events: 'all' } },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.errors.map((e: { pointer: string }) => e.pointer).sort(), [
      '/activeWithin',
      '/conversionEvents',
      '/id',
      '/latency',
      '/newFor',
    ]);
    assert.equal((await t.request('GET', '/v1/lifecycle')).status, 404, 'nothing was saved');

    // Active under the defaults (new for 7 days, active for 30): the only activity was 10 days ago.
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000).toISOString();
    await t.request('POST', '/v1/track', {
      body: { userId: 'lc-1', event: 'app_opened', messageId: 'lc-1-open', timestamp: tenDaysAgo },
    });
    await t.settle();
    assert.equal((await t.request('GET', '/v1/users/lc-1/lifecycle')).body.state, 'active');

    const config = {
      newFor: 'P3D',
      activeWithin: 'P7D',
      activity: { events: 'all' },
      conversionEvents: ['order_paid'],
      latency: 'PT15M',
    };
    const draft = await t.request('PUT', '/v1/lifecycle', { key: KEYS.admin, body: config });
    assert.equal(draft.status, 200);
    assert.equal(draft.body.id, 'lifecycle');
    const published = await t.request('POST', '/v1/lifecycle/versions/1/publish', { key: KEYS.admin });
    assert.equal(published.status, 200);
    const { recompute } = published.body;
    assert.match(recompute.href, /^\/v1\/recomputes\/recompute-[0-9a-f]{16}$/);
    await t.settle();

    const progress = await t.request('GET', recompute.href);
    assert.equal(progress.status, 200);
    assert.equal(progress.body.state, 'completed');
    assert.equal(progress.body.percent, 100);
    assert.equal(progress.body.scanned, progress.body.total);
    assert.ok(progress.body.total >= 1);

    // Dormant under the published config (7 days without activity). The moves the defaults made
    // stay as they happened; the one move the new config causes is announced when it is published.
    const lifecycle = (await t.request('GET', '/v1/users/lc-1/lifecycle')).body;
    assert.equal(lifecycle.state, 'dormant');
    assert.deepEqual(
      lifecycle.history.map((m: { from: string | null; to: string }) => `${m.from}>${m.to}`),
      ['null>new', 'new>active', 'active>dormant'],
    );
    const publishedAt = Date.parse(published.body.publishedAt);
    assert.ok(Date.parse(lifecycle.history[2].at) >= publishedAt, 'announced at the publication');
    assert.equal((await t.request('GET', '/v1/recomputes/recompute-0000000000000000')).status, 404);
  });
});
