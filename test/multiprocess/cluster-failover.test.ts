import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { emailMessageId } from '../../channels/smtp/message.ts';
import { startCluster } from '../../dev/cluster.ts';
import { waitFor } from '../../dev/engine.ts';
import { startSmtpServer } from '../../dev/fakes/smtp.ts';
import { failOverLocal, startLocalCluster } from '../../dev/redis-cluster.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';
import { assertExactlyOnce, assertStoredOnce, postAll } from '../helpers/posting.ts';
import { interleavedStream } from '../helpers/stream.ts';

// Always the local cluster (ports 7100-7105, or TIDELINE_CLUSTER_PORT's): a test that fails a master
// over is not run on someone else's.
const clusterNodes = await startLocalCluster();

const FROM = 'shop@example.com';
const SEGMENTS = fileURLToPath(new URL('../workspace/segments/', import.meta.url));

/** The test workspace's segments, and an email on every product view of a user with an address. */
const workspace = () =>
  workspaceFolder({
    ...Object.fromEntries(
      readdirSync(SEGMENTS).map((file) => [
        `segments/${file}`,
        JSON.parse(readFileSync(SEGMENTS + file, 'utf8')) as object,
      ]),
    ),
    'channels.json': {
      providers: { smtp: { host: '${SMTP_HOST}', port: '${SMTP_PORT}', ignoreTLS: 'true', from: FROM } },
    },
    'templates/viewed_email.json': {
      id: 'viewed_email',
      version: 1,
      name: 'Viewed',
      channel: 'email',
      content: { subject: 'You looked at something', text: 'Hello {{ profile.traits.signup }}' },
    },
    'journeys/viewed.json': {
      id: 'viewed',
      version: 1,
      name: 'An email on every view',
      trigger: { type: 'event', event: 'product_viewed' },
      entry: { reentry: 'anytime' },
      steps: [{ id: 'email', type: 'send', channel: 'email', template: 'viewed_email' }],
    },
  });

describe('production processes on a Redis Cluster', { timeout: 300_000 }, () => {
  it('a master failing over to its replica mid-stream: two workers apply every acknowledged event exactly once and send every message once', async () => {
    const stream = interleavedStream(250, 20, 11);
    assert.equal(stream.messages.length, 5_000);
    // Stamped in the last minutes (decided live, not late), each user's first identify giving an
    // address with consent: their later views each send an email, during the failover too.
    const shift = Date.now() - 600_000 - Date.parse('2026-11-01T00:00:00Z');
    const messages = stream.messages.map((m) => {
      const restamped = {
        ...m,
        timestamp: new Date(Date.parse(m.timestamp as string) + shift).toISOString(),
      };
      if (m.type !== 'identify' || m.anonymousId === undefined) return restamped;
      const traits = {
        ...(m.traits as object),
        email: `${String(m.userId)}@example.com`,
        consent: { email: true },
      };
      return { ...restamped, traits };
    });
    const smtp = await startSmtpServer({ auth: false });
    const dir = workspace();
    const c = await startCluster(
      2,
      {
        TIDELINE_WORKSPACE: dir,
        TIDELINE_PUBLIC_URL: 'https://t.example.com',
        SMTP_HOST: smtp.host,
        SMTP_PORT: String(smtp.port),
        TIDELINE_LOCK_DURATION: '5000',
        TIDELINE_STALLED_INTERVAL: '1000',
        TIDELINE_WORKER_CONCURRENCY: '5',
      },
      { clusterNodes },
    );
    try {
      const posting = postAll(c.url, messages, 50, 2, true);
      await waitFor(
        async () => smtp.inbox.length >= 20 && (await c.store.countProfiles()) >= 50,
        60_000,
        'the workers to make progress and send',
      );
      await failOverLocal();
      assert.equal(await posting, 5_000);
      await c.drained();
      const profiles = await c.profiles(stream);
      await assertExactlyOnce(profiles, stream, c.store);
      await assertStoredOnce(c.store, stream);

      // Every message handed over and settled: no outbox left, no timer due soon.
      const keys = stream.userIds.map((u) => `u:${u}`);
      await waitFor(
        async () =>
          [...(await c.store.getProfiles(keys)).values()].every(
            (p) => !p.outbox && (typeof p.checkAt !== 'number' || p.checkAt > Date.now() + 60_000),
          ),
        120_000,
        'every message to leave the outbox',
      );
      const sent = new Set<string>();
      // Each message's last status, by status and reason: what the count of sent ones is short of.
      const last = new Map<string, string>();
      for (const key of keys) {
        for (const e of await c.store.recentEvents(key, 10_000)) {
          const p = e.properties ?? {};
          if (e.type !== 'internal' || e.event !== 'message_status') continue;
          last.set(String(p.messageId), [p.status, p.reason].filter(Boolean).join(' '));
          if (p.status === 'sent') sent.add(emailMessageId(String(p.messageId), FROM));
        }
      }
      const counts = new Map<string, number>();
      for (const status of last.values()) counts.set(status, (counts.get(status) ?? 0) + 1);
      const tally = [...counts].map(([status, n]) => `${status}: ${n}`);
      const delivered = new Map<string, number>();
      for (const mail of smtp.inbox) {
        const id = mail.mail.messageId ?? '(none)';
        delivered.set(id, (delivered.get(id) ?? 0) + 1);
      }
      // Handed to the provider: sent, or unknown when its answer did not come back in time (an SMTP
      // server slowed by a loaded machine); either way delivered at most once, checked below.
      const handedOver = [...last.values()].filter((s) => s === 'sent' || s.startsWith('unknown')).length;
      assert.ok(handedOver > 500, `only ${handedOver} emails handed over (${tally.join(', ')})`);
      assert.deepEqual(
        [...delivered].filter(([, n]) => n > 1),
        [],
        'no message delivered to the provider twice',
      );
      // A hand-over whose answer was lost may be recorded as unknown rather than sent: delivered, once.
      for (const id of sent) assert.equal(delivered.get(id), 1, `${id}, recorded as sent, delivered once`);
      for (const w of c.workers) assert.equal(w.child.exitCode, null, `a worker exited:\n${w.output()}`);
    } finally {
      await c.close();
      await smtp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
