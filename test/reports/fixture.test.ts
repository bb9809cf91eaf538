import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { readStream, replayFolder } from './replay.ts';

const DIR = 'fixtures/reports';
let replay: Awaited<ReturnType<typeof replayFolder>>;
before(async () => {
  replay = await replayFolder(
    `${DIR}/workspace`,
    readStream(`${DIR}/events.ndjson`),
    Date.parse('2026-03-13T00:00:00Z'),
  );
});
after(() => replay.close());

const QUERY = '/v1/reports/journeys/report_fixture?from=2026-03-02&to=2026-03-12&tz=Asia/Shanghai';

it('answers the fixture report exactly as worked out by hand (fixtures/reports/README.md)', async () => {
  const res = await replay.get(QUERY);
  assert.equal(res.status, 200, res.text);
  const expected = JSON.parse(readFileSync(`${DIR}/expected-report.json`, 'utf8'));
  assert.deepEqual(JSON.parse(res.text), expected);
});
