import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startCluster } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import { type FakesProcess, forkFakes } from '../../dev/fork-fakes.ts';
import { PROCESS_KEYS as KEYS, postBatch } from '../../dev/processes.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';

const SENDS = 100;
const CAP = 3;

/** One email journey a `ping` enters every time, under a cap of three emails a day. */
const WORKSPACE = {
  'channels.json': {
    providers: {
      smtp: { host: '${SMTP_HOST}', port: '${SMTP_PORT}', ignoreTLS: 'true', from: 'shop@example.com' },
    },
    policy: { frequencyCaps: [{ channel: 'email', limit: CAP, window: 'P1D' }] },
  },
  'templates/ping_email.json': {
    id: 'ping_email',
    version: 1,
    name: 'Ping',
    channel: 'email',
    content: { subject: 'Ping', text: 'Hello {{ profile.traits.name }}' },
  },
  'journeys/ping.json': {
    id: 'ping',
    version: 1,
    name: 'An email on every ping',
    trigger: { type: 'event', event: 'ping' },
    entry: { reentry: 'anytime' },
    steps: [{ id: 'email', type: 'send', channel: 'email', template: 'ping_email' }],
  },
};

const auth = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: auth(KEYS.read) } });
  assert.equal(res.status, 200, url);
  return (await res.json()) as T;
}

async function decisions(url: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${url}/v1/journeys/ping/decisions`, {
    headers: { authorization: auth(KEYS.read) },
  });
  assert.equal(res.status, 200);
  return (await res.text())
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

interface LogEntry {
  event: string;
  messageId?: string;
  status?: string;
  reason?: string;
}

/** How many messages are at each `status/reason`: log entries or export rows, a skip as `skipped`. */
function tally(rows: readonly { status?: unknown; reason?: unknown }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const status = r.status === undefined ? 'skipped' : String(r.status);
    const key = r.reason ? `${status}/${String(r.reason)}` : status;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('message statuses with two workers', () => {
  let fakes: FakesProcess;
  const dir = workspaceFolder(WORKSPACE);
  before(async () => {
    fakes = await forkFakes(['--only', 'email']);
  });
  after(() => {
    fakes.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    `${SENDS} concurrent sends to one user under a cap of ${CAP}: every log shows ${CAP} sent and the rest skipped, once`,
    { timeout: 240_000 },
    async () => {
      const c = await startCluster(2, {
        ...fakes.env,
        TIDELINE_WORKSPACE: dir,
        TIDELINE_PUBLIC_URL: 'https://t.example.com',
      });
      try {
        const user = 'capped-1';
        const start = Date.now();
        assert.equal(
          await postBatch(c.url, KEYS.write, [
            {
              type: 'identify',
              userId: user,
              traits: { name: 'Ann', email: 'ann@example.com', consent: { email: true } },
              timestamp: new Date(start - 1000).toISOString(),
            },
          ]),
          200,
        );
        await c.drained();
        // Every ping its own request, all at once: the two workers take them side by side.
        const statuses = await Promise.all(
          Array.from({ length: SENDS }, (_, i) =>
            postBatch(c.url, KEYS.write, [
              {
                type: 'track',
                userId: user,
                event: 'ping',
                messageId: `ping-${i}`,
                timestamp: new Date(start + i).toISOString(),
              },
            ]),
          ),
        );
        assert.ok(statuses.every((s) => s === 200));
        await c.drained();
        // Settled: nothing left in the outbox.
        await waitFor(
          async () => {
            const profile = (await c.store.getProfiles([`u:${user}`])).get(`u:${user}`);
            return profile !== undefined && profile.journeys?.ping?.entries === SENDS && !profile.outbox;
          },
          120_000,
          'every message to leave the outbox',
        );
        assert.equal((await fakes.count()).email, CAP, `${CAP} emails left`);

        const { journeys } = await get<{
          journeys: { journeyId: string; enrollments: { log: LogEntry[] }[] }[];
        }>(`${c.url}/v1/users/${user}/journeys`);
        const sends = journeys[0].enrollments.flatMap((e) =>
          e.log.filter((l) => l.event === 'message_sent' || l.event === 'message_skipped'),
        );
        assert.equal(sends.length, SENDS);
        assert.deepEqual(
          tally(sends),
          { sent: CAP, [`skipped/frequency_capped`]: SENDS - CAP },
          'the user page',
        );

        const exported = (await decisions(c.url)).filter(
          (d) => d.decision === 'send' || d.decision === 'skip',
        );
        assert.equal(exported.length, SENDS);
        assert.deepEqual(
          tally(exported),
          { sent: CAP, [`skipped/frequency_capped`]: SENDS - CAP },
          'the decision export',
        );

        // Each status change once in the history, and none of them "in flight".
        const history = await c.store.recentEvents(`u:${user}`, 10_000);
        const changes = history
          .filter((e) => e.type === 'internal' && ['message_status', 'message_skipped'].includes(e.event))
          .map((e) => {
            const p = e.properties ?? {};
            return `${String(p.messageId)} ${String(p.status ?? 'skipped')} ${String(p.reason ?? '')}`;
          });
        const repeated = changes.filter((x, i) => changes.indexOf(x) !== i);
        assert.deepEqual(repeated, [], 'no status logged twice');
      } finally {
        await c.close();
      }
    },
  );
});
