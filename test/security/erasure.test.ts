import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type AliyunSmsFake, startAliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { type FakeSmtp, startSmtpServer } from '../../dev/fakes/smtp.ts';
import { KEYS, startTestEngine } from '../../dev/engine.ts';
import {
  freePort,
  PROCESS_KEYS,
  REDIS_URL,
  removeKeys,
  spawnTideline,
  type TidelineProcess,
  uniquePrefix,
} from '../../dev/processes.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';
import { fileTraces, redisTraces } from '../helpers/traces.ts';
import { call, live, person, type Person, sendingWorkspace, stillSuppressed } from '../helpers/recipient.ts';

const needles = (p: Person) => [p.userId, p.phone, p.email];

/** What the ingestion debugger of the API at `url` shows that names the user. */
async function debuggerTraces(url: string, readKey: string, p: Person): Promise<string[]> {
  const { status, body } = await call(url, 'GET', '/v1/ingest/messages?limit=100', readKey);
  assert.equal(status, 200);
  const text = JSON.stringify(body);
  return needles(p).filter((n) => text.includes(n));
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
      const dir = workspaceFolder(sendingWorkspace(sms, smtp));
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
        assert.ok(
          (await debuggerTraces(url, PROCESS_KEYS.read, p)).length > 0,
          'the debugger shows the user',
        );

        assert.equal((await call(url, 'DELETE', `/v1/users/${p.userId}`, PROCESS_KEYS.admin)).status, 200);
        assert.equal((await call(url, 'GET', `/v1/users/${p.userId}`, PROCESS_KEYS.read)).status, 404);
        assert.deepEqual(await redisTraces(redis, needles(p)), []);
        assert.deepEqual(await debuggerTraces(url, PROCESS_KEYS.read, p), []);
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
      const dir = workspaceFolder(sendingWorkspace(sms, smtp));
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
        assert.deepEqual(await debuggerTraces(t.url, KEYS.read, p), []);
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
