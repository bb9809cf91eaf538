import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LinkSigner } from '../../channels/links.ts';
import { waitFor } from '../../dev/engine.ts';
import { connectRedis } from '../../engine/adapters/redis-connection.ts';
import {
  REDIS_TARGET,
  removeKeys,
  spawnTideline,
  type TidelineProcess,
  uniquePrefix,
} from '../../dev/processes.ts';

const WORKSPACE = fileURLToPath(new URL('../../fixtures/workspace', import.meta.url));
const base = () => ({
  TIDELINE_STORE: 'redis',
  TIDELINE_QUEUE: 'bullmq',
  TIDELINE_PREFIX: uniquePrefix('prod'),
});

/** Runs a production command that must refuse to start: its exit code and what it said. */
async function refused(command: 'api' | 'worker', env: Record<string, string>) {
  const p = spawnTideline(command, env);
  const code = await p.exited;
  return { code, output: p.output() };
}

const started: TidelineProcess[] = [];
const prefixes: string[] = [];
after(async () => {
  await Promise.all(started.map((p) => p.stop()));
  for (const prefix of prefixes) await removeKeys(prefix);
});

describe('production processes refuse an unsafe configuration', () => {
  it('refuses to start api and worker without keys of their own, naming what to set', async () => {
    for (const command of ['api', 'worker'] as const) {
      const { code, output } = await refused(command, {
        ...base(),
        TIDELINE_WRITE_KEY: '',
        TIDELINE_READ_KEY: 'dev-read-key',
        TIDELINE_ADMIN_KEY: '',
      });
      assert.equal(code, 2, output);
      assert.match(output, /TIDELINE_WRITE_KEY is not set/);
      assert.match(output, /TIDELINE_READ_KEY is a development key/);
      assert.match(output, /TIDELINE_ADMIN_KEY is not set/);
      assert.doesNotMatch(output, /is running at/);
    }
  });

  it('refuses without a link secret, and without a public URL when providers are configured', async () => {
    const { code, output } = await refused('worker', {
      ...base(),
      TIDELINE_LINK_SECRET: '',
      TIDELINE_WORKSPACE: WORKSPACE,
      TIDELINE_PUBLIC_URL: '',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: '2525',
      EMAIL_FROM: 'shop@example.com',
      ALIYUN_SMS_ACCESS_KEY_ID: 'ak',
      ALIYUN_SMS_ACCESS_KEY_SECRET: 'sk',
    });
    assert.equal(code, 2, output);
    assert.match(output, /TIDELINE_LINK_SECRET is not set/);
    assert.match(output, /TIDELINE_PUBLIC_URL is not set and providers are configured/);
  });

  it('refuses with a clear message when Redis cannot be reached', async () => {
    const { code, output } = await refused('worker', {
      ...base(),
      REDIS_URL: 'redis://user:secret@127.0.0.1:1',
    });
    assert.equal(code, 2, output);
    assert.match(output, /Redis at redis:\/\/127\.0\.0\.1:1\/? is unreachable/);
    assert.doesNotMatch(output, /secret|Unhandled/);
  });

  it('the documented production example starts, its processes share the link secret, a different one is refused', async () => {
    const readme = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const block = /```sh\n(# production, Redis only[\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'the production example');
    const lines = block.trimEnd().split('\n');
    assert.equal(lines.at(-1), 'npx tideline api & npx tideline worker & npx tideline worker &');
    // Everything before the processes line, run as written; then the environment it leaves.
    const dir = mkdtempSync(join(tmpdir(), 'tideline-prod-'));
    let env: Record<string, string>;
    try {
      const printed = execFileSync('bash', ['-c', `${lines.slice(0, -1).join('\n')}\nenv -0`], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      env = Object.fromEntries(
        printed
          .split('\0')
          .filter((l) => l.startsWith('TIDELINE_'))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(Object.keys(env).sort(), [
      'TIDELINE_ADMIN_KEY',
      'TIDELINE_LINK_SECRET',
      'TIDELINE_PUBLIC_URL',
      'TIDELINE_READ_KEY',
      'TIDELINE_WRITE_KEY',
    ]);
    const prefix = uniquePrefix('prod-readme');
    prefixes.push(prefix);
    const deployment = { ...env, TIDELINE_PREFIX: prefix };
    const api = spawnTideline('api', deployment);
    const workers = [spawnTideline('worker', deployment), spawnTideline('worker', deployment)];
    started.push(api, ...workers);
    const url = await api.url;
    for (const w of workers)
      await waitFor(async () => /production configuration checked/.test(w.output()), 20_000, 'a worker');
    // The keys of the example are the API's.
    const status = await fetch(`${url}/v1/status`, {
      headers: { authorization: `Bearer ${env.TIDELINE_READ_KEY}` },
    });
    assert.equal(status.status, 200);
    assert.equal(
      (await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer dev-read-key' } })).status,
      401,
    );
    // An unsubscribe link signed with the deployment's secret (what a worker writes) opens at the API.
    const links = new LinkSigner(env.TIDELINE_PUBLIC_URL, env.TIDELINE_LINK_SECRET);
    const link = links.unsubscribeUrl({ profileKey: 'u:ann', channel: 'email', address: 'ann@example.com' });
    const page = await fetch(link.replace(env.TIDELINE_PUBLIC_URL, url));
    assert.equal(page.status, 200, await page.text());
    const forged = new LinkSigner(url, 'another-secret-0123456789').unsubscribeUrl({
      profileKey: 'u:ann',
      channel: 'email',
      address: 'ann@example.com',
    });
    assert.equal((await fetch(forged)).status, 404);

    // A process of the same deployment with another link secret would write dead links: refused.
    const other = await refused('worker', { ...deployment, TIDELINE_LINK_SECRET: 'f'.repeat(64) });
    assert.equal(other.code, 2, other.output);
    assert.match(
      other.output,
      /TIDELINE_LINK_SECRET differs from the one the other processes of this deployment/,
    );
    // The store keeps a fingerprint, not the secret.
    // Where the processes are: the cluster of REDIS_CLUSTER_NODES in a run on one.
    const redis = connectRedis(REDIS_TARGET);
    try {
      const kept = await redis.get(`${prefix}:link-secret-fingerprint`);
      assert.ok(kept && kept.length === 64 && kept !== env.TIDELINE_LINK_SECRET);
    } finally {
      redis.disconnect();
    }
  });
});
