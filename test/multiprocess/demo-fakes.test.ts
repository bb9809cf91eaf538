import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { KEYS, waitFor } from '../../dev/engine.ts';
import { type FakesProcess, forkFakes } from '../../dev/fork-fakes.ts';
import { spawnTideline, type TidelineProcess } from '../../dev/processes.ts';

let fakes: FakesProcess | undefined;
let engine: TidelineProcess | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'tideline-demo-fakes-'));
after(async () => {
  await engine?.stop();
  fakes?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const read = async (url: string, path: string) => {
  const res = await fetch(`${url}${path}`, {
    headers: { authorization: `Basic ${Buffer.from(`${KEYS.read}:`).toString('base64')}` },
  });
  return (await res.json()) as Record<string, unknown>;
};

// The poster follow-up journey has no quiet hours: its WeChat messages go whatever the time of day.
it(
  '`npm start` with the fakes configured sends the demo journeys to them',
  { timeout: 120_000 },
  async () => {
    fakes = await forkFakes();
    engine = spawnTideline('start', { ...fakes.env, TIDELINE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    const url = await engine.url;
    await waitFor(
      async () => ((await fakes!.count()).wechat ?? 0) > 0,
      90_000,
      'a WeChat message at the fake',
    );
    // The fake counts a request before the engine records its answer: wait for the record.
    let sends: { event: string; channel?: string; status?: string }[] = [];
    await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        const { enrollments } = (await read(url, '/v1/journeys/qr_follow_up/enrollments?limit=500')) as {
          enrollments: { log: { event: string; channel?: string; status?: string }[] }[];
        };
        sends = enrollments.flatMap((e) => e.log.filter((l) => l.event === 'message_sent'));
        return sends.some((l) => l.channel === 'wechat' && l.status === 'sent');
      },
      30_000,
      'a WeChat message recorded as sent',
    );
    assert.ok(
      sends.every((l) => l.status !== 'sandbox'),
      'nothing went to the sandbox',
    );
  },
);
