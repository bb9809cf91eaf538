import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type replayFolder, replayReportFixture } from './replay.ts';

const RANGE = 'from=2026-03-02&to=2026-03-12&tz=Asia/Shanghai';
let replay: Awaited<ReturnType<typeof replayFolder>>;
before(async () => {
  replay = await replayReportFixture();
});
after(() => replay.close());

it('exports every decision of the range as JSON lines: enters, sends, holds and exits with reasons', async () => {
  const res = await replay.get(`/v1/journeys/report_fixture/decisions?${RANGE}`);
  assert.equal(res.status, 200, res.text);
  assert.match(res.type, /application\/x-ndjson/);
  const rows = res.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const count = (decision: string) => rows.filter((r) => r.decision === decision).length;
  assert.deepEqual(
    { enter: count('enter'), send: count('send'), hold: count('hold'), exit: count('exit') },
    { enter: 7, send: 10, hold: 4, exit: 7 },
  );
  assert.ok(rows.every((r) => r.journeyId === 'report_fixture' && typeof r.at === 'string'));
  const holds = rows.filter((r) => r.decision === 'hold');
  assert.deepEqual(
    new Set(holds.map((r) => `${r.user}:${r.reason}`)),
    new Set(['ben:holdout', 'gus:holdout']),
  );
  const ada = rows.filter((r) => r.user === 'ada' && r.decision === 'send');
  assert.deepEqual(
    ada.map((r) => [r.step, r.channel, r.status]),
    [
      ['reminder', 'sandbox', 'sandbox'],
      ['second_reminder', 'sandbox', 'sandbox'],
    ],
  );
  // A range that ends before fay entered leaves her out.
  const early = await replay.get(
    '/v1/journeys/report_fixture/decisions?from=2026-03-02&to=2026-03-06&tz=Asia/Shanghai',
  );
  assert.ok(!early.text.includes('"fay"'));
});

it('answers a table as CSV for ?format=csv and for Accept: text/csv', async () => {
  const curve = await replay.get(`/v1/reports/journeys/report_fixture?${RANGE}&format=csv&table=curve`);
  assert.equal(curve.status, 200);
  assert.match(curve.type, /text\/csv/);
  const lines = curve.text.trim().split('\n');
  assert.equal(lines[0], 'day,converted,rate,holdoutConverted,holdoutRate');
  assert.deepEqual(lines.slice(1, 3), ['0,0,0,0,0', '1,3,0.6,0,0']);
  assert.equal(lines.length, 9);
  const daily = await replay.get(`/v1/reports/journeys/report_fixture?${RANGE}`, 'text/csv');
  assert.match(daily.type, /text\/csv/);
  assert.equal(daily.text.split('\n')[0], 'date,entered,sent,delivered,clicked,converted,revenue');
  assert.ok(daily.text.includes('2026-03-08,0,1,0,0,2,220'));
});

it('ranks the journeys in the overview, with a daily series for sparklines', async () => {
  const res = await replay.get(`/v1/reports/journeys?${RANGE}`);
  assert.equal(res.status, 200, res.text);
  const body = JSON.parse(res.text);
  assert.equal(body.journeys.length, 1);
  const [row] = body.journeys;
  assert.deepEqual(
    [row.id, row.entered, row.converted, row.revenue, row.lastTouchRevenue, row.daily.length],
    ['report_fixture', 7, 4, 480.5, 340.5, 11],
  );
});

it('refuses bad queries with a pointer to the field, and an unknown journey with 404', async () => {
  const cases: [string, number, string][] = [
    [`/v1/reports/journeys/report_fixture?tz=Mars/Olympus`, 400, '/query/tz'],
    [`/v1/reports/journeys/report_fixture?from=2026-03-12&to=2026-03-02`, 400, '/query/from'],
    [`/v1/reports/journeys/report_fixture?from=2026-02-30`, 400, '/query/from'],
    [`/v1/reports/journeys/report_fixture?from=2024-01-01&to=2026-03-02`, 400, '/query/from'],
    [`/v1/reports/journeys/report_fixture?version=7`, 400, '/query/version'],
    [`/v1/reports/journeys/report_fixture?version=x`, 400, '/query/version'],
    [`/v1/reports/journeys/report_fixture?format=xml`, 400, '/query/format'],
    [`/v1/reports/journeys/report_fixture?format=csv&table=nope`, 400, '/query/table'],
    [`/v1/journeys/report_fixture/decisions?to=nope`, 400, '/query/to'],
  ];
  for (const [path, status, pointer] of cases) {
    const res = await replay.get(path);
    assert.equal(res.status, status, `${path}: ${res.text}`);
    assert.equal(JSON.parse(res.text).errors?.[0]?.pointer, pointer, path);
  }
  const missing = await replay.get('/v1/reports/journeys/nope');
  assert.equal(missing.status, 404);
});
