import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type AliyunSmsFake, startAliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { type FakeSmtp, startSmtpServer } from '../../dev/fakes/smtp.ts';
import { KEYS, startTestEngine, waitFor } from '../../dev/engine.ts';
import {
  PROCESS_KEYS,
  REDIS_URL,
  removeKeys,
  spawnTideline,
  type TidelineProcess,
  uniquePrefix,
} from '../../dev/processes.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';
import { fileTraces, linksOf, redisTraces, sendingWorkspace } from '../helpers/traces.ts';

const TOKEN = 'erasure-callback-token';

/** A user no other test names: their id, phone and email are what the scans look for. */
function person() {
  const tag = randomBytes(5).toString('hex');
  const digits = String(parseInt(tag, 16)).padStart(8, '0').slice(-8);
  return {
    userId: `erasee-${tag}`,
    anonymousId: `anon-${tag}`,
    phone: `139${digits}`,
    email: `erasee.${tag}@example.com`,
  };
}
type Person = ReturnType<typeof person>;

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

async function call(url: string, method: string, path: string, key: string | null, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: basic(key) } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

/**
 * Gives the user a history through the API at `url`: an identify with both addresses and consent,
 * a page and a cart_add; waits for the SMS and the email at the fakes, posts the SMS's receipt,
 * opens the email's tracked link, and waits for the receipt and the click to reach the profile.
 */
async function live(
  p: Person,
  url: string,
  keys: { write: string; read: string },
  fakes: { sms: AliyunSmsFake; smtp: FakeSmtp },
  local: (link: string) => string,
) {
  const at = new Date().toISOString();
  const { status } = await call(url, 'POST', '/v1/batch', keys.write, {
    batch: [
      {
        type: 'identify',
        userId: p.userId,
        anonymousId: p.anonymousId,
        traits: { name: 'Eve', phone: p.phone, email: p.email, consent: { sms: true, email: true } },
        timestamp: at,
      },
      { type: 'page', userId: p.userId, name: 'Cart', properties: { email: p.email }, timestamp: at },
      { type: 'track', userId: p.userId, event: 'cart_add', properties: { sku: 'sku-9' }, timestamp: at },
    ],
  });
  assert.equal(status, 200);
  await waitFor(async () => fakes.sms.accepted.some((s) => s.phone === p.phone), 30_000, 'the SMS');
  await waitFor(
    async () => fakes.smtp.inbox.some((m) => m.envelope.to.includes(p.email)),
    30_000,
    'the email',
  );
  const sms = fakes.sms.accepted.find((s) => s.phone === p.phone)!;
  const receipt = await call(url, 'POST', `/v1/inbound/aliyun-sms/report?token=${TOKEN}`, null, [
    {
      phone_number: p.phone,
      send_time: '2026-11-22 10:00:01',
      report_time: '2026-11-22 10:00:05',
      success: true,
      err_code: 'DELIVERED',
      err_msg: 'ok',
      sms_size: '1',
      biz_id: sms.bizId,
    },
  ]);
  assert.equal(receipt.status, 200);
  const mail = fakes.smtp.inbox.find((m) => m.envelope.to.includes(p.email))!;
  const { click, unsubscribe } = linksOf(mail.mail.text ?? '');
  assert.equal((await fetch(local(click), { redirect: 'manual' })).status, 302);
  assert.equal((await fetch(local(unsubscribe), { method: 'POST' })).status, 200);
  await waitFor(
    async () => {
      const { body } = await call(url, 'GET', `/v1/users/${p.userId}`, keys.read);
      const events = ((body?.events ?? []) as { event: string }[]).map((e) => e.event);
      const view = (body?.profile ?? body) as { channels?: { email?: { consent?: { granted?: boolean } } } };
      const email = view?.channels?.email;
      return (
        events.includes('message_clicked') &&
        events.includes('message_delivered') &&
        email?.consent?.granted === false
      );
    },
    30_000,
    'the click, the receipt and the unsubscribe in the profile',
  );
  await stillSuppressed(url, keys.read, p);
}

const needles = (p: Person) => [p.userId, p.phone, p.email];

async function stillSuppressed(url: string, readKey: string, p: Person) {
  const { body } = await call(url, 'GET', `/v1/suppressions/email/${p.email}`, readKey);
  assert.equal(body?.reason, 'opt_out', 'the opt-out is kept');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('after erasure nothing names the user', () => {
  let sms: AliyunSmsFake;
  let smtp: FakeSmtp;
  before(async () => {
    sms = await startAliyunSmsFake();
    smtp = await startSmtpServer({ auth: false });
  });
  after(async () => {
    await sms.close();
    await smtp.close();
  });

  it(
    'Redis only: no key name or value in the whole Redis holds the id, the phone or the email',
    {
      timeout: 120_000,
    },
    async () => {
      const prefix = uniquePrefix('erase');
      const dir = workspaceFolder(sendingWorkspace(sms, smtp, TOKEN));
      const port = await freePort();
      const publicUrl = `http://127.0.0.1:${port}`;
      const env = {
        TIDELINE_STORE: 'redis',
        TIDELINE_QUEUE: 'bullmq',
        TIDELINE_PREFIX: prefix,
        TIDELINE_WORKSPACE: dir,
        TIDELINE_PUBLIC_URL: publicUrl,
        PORT: String(port),
      };
      const processes: TidelineProcess[] = [spawnTideline('api', env), spawnTideline('worker', env)];
      const redis = new Redis(REDIS_URL);
      try {
        const url = await processes[0].url;
        const p = person();
        await live(p, url, PROCESS_KEYS, { sms, smtp }, (link) => link);
        assert.ok((await redisTraces(redis, needles(p))).length > 0, 'the scan finds the user before');

        assert.equal((await call(url, 'DELETE', `/v1/users/${p.userId}`, PROCESS_KEYS.admin)).status, 200);
        assert.equal((await call(url, 'GET', `/v1/users/${p.userId}`, PROCESS_KEYS.read)).status, 404);
        assert.deepEqual(await redisTraces(redis, needles(p)), []);
        await stillSuppressed(url, PROCESS_KEYS.read, p);
      } finally {
        await Promise.all(processes.map((x) => x.stop()));
        await removeKeys(prefix, redis);
        await redis.quit();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it(
    'embedded: no file of the data folder (store, channel state, journal) holds them, running or stopped',
    {
      timeout: 60_000,
    },
    async () => {
      const dir = workspaceFolder(sendingWorkspace(sms, smtp, TOKEN));
      const t = await startTestEngine({ workspaceDir: dir, channelsFile: join(dir, 'channels.json') });
      let stopped = false;
      try {
        const p = person();
        const local = (link: string) => link.replace(t.config.publicUrl, t.url);
        await live(p, t.url, KEYS, { sms, smtp }, local);
        // Whatever the last snapshot holds, the journal holds the messages.
        assert.ok(fileTraces(t.config.dataDir, needles(p)).length > 0, 'the scan finds the user before');

        assert.equal((await t.request('DELETE', `/v1/users/${p.userId}`, { key: KEYS.admin })).status, 200);
        assert.deepEqual(fileTraces(t.config.dataDir, needles(p)), []);
        await stillSuppressed(t.url, KEYS.read, p);
        await t.engine.stop();
        stopped = true;
        assert.deepEqual(fileTraces(t.config.dataDir, needles(p)), []);
      } finally {
        if (!stopped) await t.engine.stop();
        rmSync(t.config.dataDir, { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
