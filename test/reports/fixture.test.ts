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
