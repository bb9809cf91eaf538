import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LinkSigner } from '../../channels/links.ts';
import { waitFor } from '../../dev/engine.ts';
import { startAliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { startSmtpServer } from '../../dev/fakes/smtp.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';
import { call, live, person, sendingWorkspace } from '../helpers/recipient.ts';
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

/**
 * The production example of docs/operations.md: everything before its processes line, run as
 * written in a shell, and the environment it leaves.
 */
function exampleEnv(): Record<string, string> {
  const readme = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const block = /```sh\n(# production, Redis only[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the production example');
  const lines = block.trimEnd().split('\n');
  assert.equal(lines.at(-1), 'npx tideline api & npx tideline worker & npx tideline worker &');
  const dir = mkdtempSync(join(tmpdir(), 'tideline-prod-'));
  try {
    const printed = execFileSync('bash', ['-c', `${lines.slice(0, -1).join('\n')}\nenv -0`], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    return Object.fromEntries(
      printed
        .split('\0')
        .filter((l) => l.startsWith('TIDELINE_'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
    const env = exampleEnv();
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

  it(
    "the production example's worker sends messages whose click and unsubscribe links work at its API",
    {
      timeout: 120_000,
    },
    async () => {
      const env = exampleEnv();
      const sms = await startAliyunSmsFake();
      const smtp = await startSmtpServer({ auth: false });
      const dir = workspaceFolder(sendingWorkspace(sms, smtp));
      try {
        const prefix = uniquePrefix('prod-links');
        prefixes.push(prefix);
        // The example's environment, with a workspace whose journey sends through the fakes.
        const deployment = { ...env, TIDELINE_PREFIX: prefix, TIDELINE_WORKSPACE: dir };
        const api = spawnTideline('api', deployment);
        const worker = spawnTideline('worker', deployment);
        started.push(api, worker);
        const url = await api.url;
        // The start-up log says which provider callbacks are open.
        // (On standard output, which may arrive after the listening line on standard error.)
        const callbacks = /inbound callbacks: Aliyun SMS on; WeChat off \(no app with a callbackToken\)/;
        await waitFor(async () => callbacks.test(api.output()), 10_000, 'the callbacks line');
        // A link in a message names the public URL, which a proxy forwards to the API.
        const local = (link: string) => {
          assert.ok(link.startsWith(`${env.TIDELINE_PUBLIC_URL}/`), link);
          return `${url}${link.slice(env.TIDELINE_PUBLIC_URL.length)}`;
        };
        const keys = { write: env.TIDELINE_WRITE_KEY, read: env.TIDELINE_READ_KEY };
        // Sent by the worker process, opened at the API process: the click is recorded (an event on the
        // profile), the unsubscribe turns consent off and suppresses the address.
        const p = person();
        const { unsubscribe } = await live(p, url, keys, { sms, smtp }, local);
        const page = await fetch(local(unsubscribe));
        assert.equal(page.status, 200);
        const { body } = await call(url, 'GET', `/v1/users/${p.userId}`, keys.read);
        const clicks = (body?.events as { event: string }[]).filter((e) => e.event === 'message_clicked');
        assert.equal(clicks.length, 1);
      } finally {
        await Promise.all([sms.close(), smtp.close()]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('production commands run the compiled build, without tsx', async (t) => {
    if (
      !existsSync(new URL('../../dist/cli/main.js', import.meta.url)) ||
      process.env.TIDELINE_FROM_SOURCE === '1'
    )
      return t.skip('no compiled build in dist/ (npm run build), or the sources asked for');
    // A resolve hook that refuses tsx: the process starts only if it never needs it.
    const hook = `export async function resolve(specifier, context, next) {
      if (/(^|\\/)tsx(\\/|$)/.test(specifier)) throw new Error('tsx was asked for: ' + specifier);
      return next(specifier, context);
    }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const prefix = uniquePrefix('prod-dist');
    prefixes.push(prefix);
    const api = spawnTideline('api', { ...base(), TIDELINE_PREFIX: prefix }, [
      '--import',
      `data:text/javascript,${encodeURIComponent(register)}`,
    ]);
    started.push(api);
    await api.url;
  });
});
