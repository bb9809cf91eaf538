/**
 * The demo as a newcomer first sees it (`npm start`, no provider configured: every message to the
 * sandbox) counts the same sends, skips and failures as the same demo sending through the provider
 * fakes, and its sends are what the fakes took: the sandbox resolves addresses, consent and caps
 * and renders like a real channel. Both engines start together, so both demos hold the same events.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { after, it } from 'node:test';
import { KEYS } from '../../dev/engine.ts';
import { type FakesProcess, forkFakes } from '../../dev/fork-fakes.ts';
import { spawnTideline, type TidelineProcess } from '../../dev/processes.ts';

const engines: TidelineProcess[] = [];
let fakes: FakesProcess | undefined;
const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'tideline-demo-sandbox-')));
after(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  fakes?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Counts {
  sent: number;
  skipped: number;
  failed: number;
}
interface Report {
  steps: ({ step: string } & Counts)[];
  channels: ({ channel: string } & Counts)[];
}

async function read<T>(url: string, path: string): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    headers: { authorization: `Basic ${Buffer.from(`${KEYS.read}:`).toString('base64')}` },
  });
  assert.equal(res.status, 200, path);
  return (await res.json()) as T;
}

/** Every journey's sends, skips and failures by step and by channel, as the console shows them. */
async function counts(url: string): Promise<Record<string, unknown>> {
  const { journeys } = await read<{ journeys: { id: string }[] }>(url, '/v1/reports/journeys');
  const out: Record<string, unknown> = {};
  for (const { id } of journeys) {
    const report = await read<Report>(url, `/v1/reports/journeys/${id}`);
    const pick = ({ sent, skipped, failed }: Counts) => ({ sent, skipped, failed });
    out[id] = {
      steps: report.steps.map((s) => ({ step: s.step, ...pick(s) })),
      channels: report.channels.map((c) => ({ channel: c.channel, ...pick(c) })),
    };
  }
  return out;
}

/** Messages sent per channel, in the fakes' grouping (a Mini Program message goes to the WeChat fake). */
function sentByFake(all: Record<string, unknown>): Record<string, number> {
  const sent: Record<string, number> = {};
  for (const journey of Object.values(all) as { channels: { channel: string; sent: number }[] }[])
    for (const { channel, sent: n } of journey.channels) {
      if (n === 0 || channel === 'sandbox') continue;
      const fake = channel === 'miniprogram' ? 'wechat' : channel;
      sent[fake] = (sent[fake] ?? 0) + n;
    }
  return sent;
}

it(
  'the demo in the sandbox counts what the provider fakes take, skips and fails the same',
  { timeout: 240_000 },
  async (t) => {
    // The sandbox cannot know that a provider refuses one particular number, so the SMS fake takes
    // every number here (by default it refuses some by their last four digits, one of the demo's).
    fakes = await forkFakes(['--accept-all-numbers']);
    const quiet = { LOG_LEVEL: 'warn' };
    const [sandbox, real] = [
      spawnTideline('start', { ...quiet, TIDELINE_DATA_DIR: dirs[0] }),
      spawnTideline('start', { ...quiet, ...fakes.env, TIDELINE_DATA_DIR: dirs[1] }),
    ];
    engines.push(sandbox, real);
    const urls = await Promise.all([sandbox.url, real.url]);

    // Timers keep firing as the live day goes on: wait until three reads in a row find both demos
    // agreeing and every send of the real one at a fake (the assertions below show what differs if
    // that never happens).
    let last: Record<string, unknown>[] = [];
    let took: Record<string, number> = {};
    let agreed = 0;
    for (const until = Date.now() + 150_000; Date.now() < until && agreed < 3;) {
      await new Promise((r) => setTimeout(r, 2000));
      last = await Promise.all(urls.map(counts));
      took = Object.fromEntries(Object.entries(await fakes.count()).filter(([, n]) => n > 0));
      const agree =
        Object.keys(took).length > 0 &&
        isDeepStrictEqual(last[0], last[1]) &&
        isDeepStrictEqual(sentByFake(last[1]), took);
      agreed = agree ? agreed + 1 : 0;
    }
    t.diagnostic(agreed >= 3 ? 'both demos agreed three times in a row' : 'compared at the deadline');
    const [inSandbox, throughFakes] = last;
    assert.deepEqual(inSandbox, throughFakes, 'the sandbox counts what the real channels count');
    assert.deepEqual(sentByFake(inSandbox), took, 'the sandbox sends what the fakes took');
    const skipped = Object.values(inSandbox as Record<string, { channels: Counts[] }>)
      .flatMap((j) => j.channels)
      .reduce((n, c) => n + c.skipped, 0);
    assert.ok(skipped > 0, 'some demo users have no address or consent: skipped, not sent');
  },
);
