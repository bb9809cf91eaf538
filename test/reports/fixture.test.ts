import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { REPORT_FIXTURE, type replayFolder, replayReportFixture } from './replay.ts';

let replay: Awaited<ReturnType<typeof replayFolder>>;
before(async () => {
  replay = await replayReportFixture();
});
after(() => replay.close());

const QUERY = '/v1/reports/journeys/report_fixture?from=2026-03-02&to=2026-03-12&tz=Asia/Shanghai';

it('answers the fixture report exactly as worked out by hand (fixtures/reports/README.md)', async () => {
  const res = await replay.get(QUERY);
  assert.equal(res.status, 200, res.text);
  const expected = JSON.parse(readFileSync(`${REPORT_FIXTURE}/expected-report.json`, 'utf8'));
  assert.deepEqual(JSON.parse(res.text), expected);
});

it('answers the same report when the stream is back-filled in one request after its last event', async () => {
  const backfilled = await replayReportFixture('backfill');
  try {
    const [live, late] = await Promise.all([replay.get(QUERY), backfilled.get(QUERY)]);
    assert.equal(late.status, 200, late.text);
    const report = JSON.parse(late.text);
    // Per-step and per-channel credit, messages converted and last touch included.
    assert.ok(report.channels.length > 0 && report.steps.length > 0);
    assert.deepEqual(report, JSON.parse(live.text));
  } finally {
    await backfilled.close();
  }
});
