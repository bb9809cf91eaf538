import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  connectRedis,
  deleteOnNode,
  escapeGlob,
  parseClusterNodes,
  type RedisClient,
  type RedisTarget,
  scanKeys,
} from '../engine/adapters/redis-connection.ts';

const BIN = fileURLToPath(new URL('../bin/tideline.mjs', import.meta.url));
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** The Redis that spawned processes use: the cluster of REDIS_CLUSTER_NODES when it is set. */
export const REDIS_TARGET: RedisTarget = {
  url: REDIS_URL,
  clusterNodes: parseClusterNodes(process.env.REDIS_CLUSTER_NODES ?? ''),
};

/** A loopback port nothing listens on right now (for a process the test starts, or to be refused). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export function uniquePrefix(name: string): string {
  return `tltest-${name}-${randomBytes(4).toString('hex')}`;
}

/**
 * The keys and link secret `spawnTideline` gives production processes (`api`, `worker`), which refuse
 * to start with the development ones; a test's env can override or blank each.
 */
export const PROCESS_KEYS = {
  write: 'test-write-key-5c1f0e7a9b',
  read: 'test-read-key-3d8a61c2f4',
  admin: 'test-admin-key-9e4b27d05a',
} as const;
export const PROCESS_LINK_SECRET = 'test-link-secret-7f3c9a1e5b2d4068';

const productionEnv = {
  TIDELINE_WRITE_KEY: PROCESS_KEYS.write,
  TIDELINE_READ_KEY: PROCESS_KEYS.read,
  TIDELINE_ADMIN_KEY: PROCESS_KEYS.admin,
  TIDELINE_LINK_SECRET: PROCESS_LINK_SECRET,
};

export interface TidelineProcess {
  child: ChildProcess;
  /** The API's URL (api and start commands). */
  url: Promise<string>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Everything it wrote so far (stdout and stderr). */
  output(): string;
  /** Its exit code once it exits. */
  exited: Promise<number | null>;
}

/** Runs `tideline <command>` as a child process, as an operator would. */
export function spawnTideline(
  command: 'api' | 'worker' | 'start',
  env: Record<string, string>,
  /** Node options before the script (`--cpu-prof` to profile a bench's worker). */
  nodeArgs: string[] = [],
): TidelineProcess {
  const child = spawn(process.execPath, [...nodeArgs, BIN, command], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      REDIS_URL,
      ...(command === 'start' ? {} : productionEnv),
      // A test that names a Redis server means that one, also in a run on a cluster.
      ...(env.REDIS_URL !== undefined && env.REDIS_CLUSTER_NODES === undefined
        ? { REDIS_CLUSTER_NODES: '' }
        : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The API prints "... is running at <url>" on stderr whatever the log level.
  const url = new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
      const match = output.match(/is running at (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    void exited.then((code) =>
      reject(new Error(`tideline ${command} exited (${code}) before listening:\n${output}`)),
    );
  });
  url.catch(() => {});
  return {
    child,
    url,
    exited,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Deletes every key that starts with `prefix` (SCAN on each master, then UNLINK), on `redis` or a
 * connection of its own to REDIS_TARGET; how many.
 */
export async function removeKeys(prefix: string, redis?: RedisClient): Promise<number> {
  const client = redis ?? connectRedis(REDIS_TARGET);
  let deleted = 0;
  await scanKeys(client, `${escapeGlob(prefix)}*`, async (node, keys) => {
    deleted += await deleteOnNode(node, keys);
  });
  if (!redis) await client.quit();
  return deleted;
}

export async function postBatch(url: string, writeKey: string, batch: unknown[]): Promise<number> {
  const res = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
    },
    body: JSON.stringify({ batch }),
  });
  await res.arrayBuffer();
  return res.status;
}
