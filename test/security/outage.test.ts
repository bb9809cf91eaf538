import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';
import { freePort, spawnTideline } from '../../dev/processes.ts';

/** redis-server on `port`, with AOF in `dir`; resolves once it answers PING. */
async function startRedis(port: number, dir: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '',
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50 });
  probe.on('error', () => {});
  await waitFor(async () => (await probe.ping().catch(() => '')) === 'PONG', 10_000, 'redis-server');
  probe.disconnect();
  return child;
}

const stopRedis = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

const timed = async (url: string, init: RequestInit = {}) => {
  const started = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body,
    ms: performance.now() - started,
  };
};

const auth = (key: string) => ({ authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` });

describe('Redis outage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-outage-'));
  let redis: ChildProcess | undefined;
  let t: TestEngine | undefined;
  after(async () => {
    await t?.close().catch(() => {});
    if (redis) await stopRedis(redis);
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'answers 503 with Retry-After within a second, /ready fails and /health stays up; nothing acknowledged is lost',
    { timeout: 90_000 },
    async () => {
      const port = await freePort();
      redis = await startRedis(port, dir);
      t = await startTestEngine({
        store: 'redis',
        queue: 'bullmq',
        redisUrl: `redis://127.0.0.1:${port}`,
        prefix: 'outage',
      });
      const ready = await timed(`${t.url}/ready`);
      assert.equal(ready.status, 200, ready.body);
      const track = (n: number) =>
        timed(`${t!.url}/v1/track`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth(KEYS.write) },
          body: JSON.stringify({ userId: `out-${n}`, event: 'x', messageId: `out-${n}` }),
        });
      for (let n = 0; n < 5; n++) assert.equal((await track(n)).status, 200);

      await stopRedis(redis);
      await new Promise((r) => setTimeout(r, 1500));
      for (const attempt of [
        () => track(100),
        () => timed(`${t!.url}/v1/users/out-1`, { headers: auth(KEYS.read) }),
        () => timed(`${t!.url}/v1/status`, { headers: auth(KEYS.read) }),
      ]) {
        const answer = await attempt();
        assert.equal(answer.status, 503, answer.body);
        assert.equal(answer.retryAfter, '5');
        assert.ok(answer.ms < 1000, `answered in ${Math.round(answer.ms)} ms`);
        assert.equal(JSON.parse(answer.body).error, 'unavailable');
      }
      const health = await timed(`${t.url}/health`);
      assert.deepEqual([health.status, health.ms < 1000], [200, true]);
      const notReady = await timed(`${t.url}/ready`);
      assert.equal(notReady.status, 503);
      assert.ok(notReady.ms < 1000, `ready answered in ${Math.round(notReady.ms)} ms`);
      assert.match(JSON.parse(notReady.body).checks.store, /Redis unreachable/);

      // Redis back (its AOF kept): ready again, and every acknowledged event applied.
      redis = await startRedis(port, dir);
      await waitFor(async () => (await timed(`${t!.url}/ready`)).status === 200, 20_000, '/ready');
      await waitFor(
        async () => {
          for (let n = 0; n < 5; n++)
            if ((await timed(`${t!.url}/v1/users/out-${n}`, { headers: auth(KEYS.read) })).status !== 200)
              return false;
          return true;
        },
        30_000,
        'the acknowledged events',
      );
      assert.equal((await track(6)).status, 200);
    },
  );

  it(
    'refuses to start a production process on a Redis that may evict keys',
    { timeout: 30_000 },
    async () => {
      const port = await freePort();
      const evicting = await startRedis(port, mkdtempSync(join(tmpdir(), 'tideline-lru-')), [
        '--maxmemory',
        '100mb',
        '--maxmemory-policy',
        'allkeys-lru',
      ]);
      try {
        const api = spawnTideline('api', {
          TIDELINE_STORE: 'redis',
          TIDELINE_QUEUE: 'bullmq',
          REDIS_URL: `redis://127.0.0.1:${port}`,
        });
        assert.equal(await api.exited, 2, api.output());
        assert.match(api.output(), /Redis maxmemory-policy is allkeys-lru: set it to noeviction/);
      } finally {
        await stopRedis(evicting);
      }
    },
  );
});
