import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const BIN = fileURLToPath(new URL('../bin/tideline.mjs', import.meta.url));
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

export function uniquePrefix(name: string): string {
  return `tltest-${name}-${randomBytes(4).toString('hex')}`;
}

export interface TidelineProcess {
  child: ChildProcess;
  /** The API's URL (api and start commands). */
  url: Promise<string>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Runs `tideline <command>` as a child process, as an operator would. */
export function spawnTideline(
  command: 'api' | 'worker' | 'start',
  env: Record<string, string>,
  /** Node options before the script (`--cpu-prof` to profile a bench's worker). */
  nodeArgs: string[] = [],
): TidelineProcess {
  const child = spawn(process.execPath, [...nodeArgs, BIN, command], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', REDIS_URL, ...env },
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
    child.stdout?.resume();
    void exited.then((code) =>
      reject(new Error(`tideline ${command} exited (${code}) before listening:\n${output}`)),
    );
  });
  url.catch(() => {});
  return {
    child,
    url,
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

/** Deletes every key that starts with `prefix` (SCAN, then DEL), on `redis` or a connection of its own; how many. */
export async function removeKeys(prefix: string, redis?: Redis): Promise<number> {
  const client = redis ?? new Redis(REDIS_URL);
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
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
