/**
 * A Redis Cluster on loopback for tests and benchmarks: 3 masters with a replica each, from the
 * machine's `redis-server` and `redis-cli` (Debian's package). Ports 7100-7105, files in
 * `<tmpdir>/tideline-redis-cluster-7100`, nothing kept on disk but the nodes' cluster configuration.
 *
 * `localCluster()` reuses a cluster already running there and otherwise starts one; when
 * REDIS_CLUSTER_NODES is set it is that cluster's seeds instead, and nothing is started.
 *
 * From a shell: `node --import tsx dev/redis-cluster.ts start|stop|status` (scripts/redis-cluster.sh).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The first of the six ports; `TIDELINE_CLUSTER_PORT` moves them (two checkouts testing at once). */
export const CLUSTER_FIRST_PORT = Number(process.env.TIDELINE_CLUSTER_PORT ?? 7100);
const NODES = 6;
const HOST = '127.0.0.1';
const ports = Array.from({ length: NODES }, (_, i) => CLUSTER_FIRST_PORT + i);
const dir = join(tmpdir(), `tideline-redis-cluster-${CLUSTER_FIRST_PORT}`);

async function cli(port: number, ...args: string[]): Promise<string | null> {
  try {
    const { stdout } = await run('redis-cli', ['-h', HOST, '-p', String(port), ...args], { timeout: 5000 });
    return stdout;
  } catch {
    return null;
  }
}

const field = (info: string, name: string): string | undefined =>
  new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];

/** Every node answers, sees all six, and says the cluster is ok. */
async function healthy(): Promise<boolean> {
  const infos = await Promise.all(ports.map((port) => cli(port, 'cluster', 'info')));
  return infos.every(
    (info) =>
      info !== null &&
      field(info, 'cluster_state') === 'ok' &&
      field(info, 'cluster_known_nodes') === String(NODES) &&
      field(info, 'cluster_slots_assigned') === '16384',
  );
}

async function startNode(port: number): Promise<void> {
  if ((await cli(port, 'ping'))?.trim() === 'PONG') return;
  await run('redis-server', [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    `nodes-${port}.conf`,
    '--cluster-node-timeout',
    '2000',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
    '--pidfile',
    join(dir, `redis-${port}.pid`),
    '--logfile',
    join(dir, `redis-${port}.log`),
  ]);
  for (let i = 0; i < 100 && (await cli(port, 'ping'))?.trim() !== 'PONG'; i++) await sleep(50);
}

/** Taken with mkdir, which is atomic: processes that start at once create the cluster once. */
async function locked<T>(work: () => Promise<T>): Promise<T> {
  const lock = join(dir, 'lock');
  await mkdir(dir, { recursive: true });
  for (let waited = 0; ; waited += 100) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => '0'));
      const alive = owner > 0 && isAlive(owner);
      if ((!alive && waited > 1000) || waited > 60_000) await rm(lock, { recursive: true, force: true });
      await sleep(100);
    }
  }
  try {
    return await work();
  } finally {
    await rm(join(lock, 'pid'), { force: true });
    await rmdir(lock).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the six nodes and joins them into a cluster, unless a healthy one is already there. */
export async function startLocalCluster(): Promise<string[]> {
  const seeds = ports.map((port) => `${HOST}:${port}`);
  if (await healthy()) return seeds;
  await locked(async () => {
    if (await healthy()) return;
    await Promise.all(ports.map(startNode));
    const infos = await Promise.all(ports.map((port) => cli(port, 'cluster', 'info')));
    const formed = infos.some((info) => info !== null && field(info, 'cluster_known_nodes') !== '1');
    if (!formed) {
      await run('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '1', '--cluster-yes'], {
        timeout: 30_000,
      });
    }
    for (let i = 0; i < 300 && !(await healthy()); i++) await sleep(100);
    if (!(await healthy())) {
      throw new Error(
        `the local Redis Cluster on ports ${ports[0]}-${ports[NODES - 1]} is not healthy: run scripts/redis-cluster.sh stop, then try again (logs in ${dir})`,
      );
    }
  });
  return seeds;
}

/**
 * `CLUSTER FAILOVER` on a replica of the local cluster (a master hands over to it without losing a
 * write), then waits until the replica is a master and the cluster is ok again; answers its port.
 */
export async function failOverLocal(): Promise<number> {
  const nodes = (await cli(ports[0], 'cluster', 'nodes')) ?? '';
  const replica = /:(\d+)@\d+ (?:myself,)?slave /.exec(nodes);
  if (!replica) throw new Error(`no replica in the local cluster:\n${nodes}`);
  const port = Number(replica[1]);
  await run('redis-cli', ['-h', HOST, '-p', String(port), 'cluster', 'failover']);
  for (let i = 0; i < 300; i++) {
    const role = await cli(port, 'role');
    if (role?.startsWith('master') && (await healthy())) return port;
    await sleep(100);
  }
  throw new Error(`the replica on port ${port} did not take over`);
}

/** Shuts the six nodes down and removes their files. */
export async function stopLocalCluster(): Promise<void> {
  await Promise.all(ports.map((port) => cli(port, 'shutdown', 'nosave')));
  await rm(dir, { recursive: true, force: true });
}

/** The seeds of the cluster tests run on: REDIS_CLUSTER_NODES when set, else the local one (started if need be). */
export async function localCluster(): Promise<string[]> {
  const configured = process.env.REDIS_CLUSTER_NODES?.trim();
  if (configured) return configured.split(',').map((s) => s.trim());
  return startLocalCluster();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const command = process.argv[2] ?? 'start';
  if (command === 'start') process.stdout.write(`${(await startLocalCluster()).join(',')}\n`);
  else if (command === 'stop') await stopLocalCluster();
  else if (command === 'status') process.stdout.write((await healthy()) ? 'ok\n' : 'down\n');
  else {
    process.stderr.write('usage: redis-cluster.ts start|stop|status\n');
    process.exitCode = 2;
  }
}
