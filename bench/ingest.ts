/**
 * bench/ingest: how fast events are accepted over HTTP and applied to profiles, what each applied event
 * costs Redis, and what profiles cost in memory. Usage:
 *   npm run bench:ingest -- [--runs 5] [--events 50000] [--profiles 100000] [--only embedded,redis,memory]
 *     [--cluster]
 *
 * - accepted/s: events in Segment batches of 100, posted over keep-alive HTTP by 8 concurrent clients,
 *   divided by the time until the last 200.
 * - applied/s: the same events divided by the time until every one is applied to its profile, and
 *   the CPU time Tideline's processes spent per applied event (/proc), which a busy machine bends less.
 * - Redis-only mode (an API and a worker, the store and BullMQ on REDIS_URL): per applied event, the
 *   commands Redis executed (INFO commandstats: the calls of every command, those a script runs
 *   included, BullMQ's too) and the Redis CPU (INFO cpu: the server's user + system time), both taken
 *   around the run. Point REDIS_URL at a Redis of the bench's own: other clients' commands count too.
 * - `--cluster`: the same Redis-only run again on a Redis Cluster (REDIS_CLUSTER_NODES, or the local
 *   one of dev/redis-cluster.ts), with each master's share of the Redis CPU (an equal share is 1/masters).
 * - the parse-and-answer limit (bench/limit.ts), measured before every run on the same bodies with the
 *   same clients, and express + express.json beside it; each mode's figures as a share of the limit
 *   of its own run, so they mean the same on a slow and a fast day.
 * - RSS with N profiles (10 traits, 5 tags) in the embedded memory store, and Redis bytes per profile.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitFor } from '../dev/engine.ts';
import {
  PROCESS_KEYS as KEYS,
  REDIS_URL,
  removeKeys,
  spawnTideline,
  uniquePrefix,
} from '../dev/processes.ts';
import { connectRedis, masters, type RedisClient } from '../engine/adapters/redis-connection.ts';
import { localCluster } from '../dev/redis-cluster.ts';
import { redisView } from '../dev/cluster.ts';
import { queuePartitions } from '../cli/config.ts';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import { fmt, log, median, processCpuSeconds } from './stats.ts';
import { measureLimit, post, stream, type LimitFigures } from './limit.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    events: { type: 'string', default: '50000' },
    profiles: { type: 'string', default: '100000' },
    only: { type: 'string', default: 'embedded,redis,memory' },
    cluster: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const eventCount = Number(values.events);
const only = new Set(values.only.split(','));

/** What one Redis server has done so far: commands executed and CPU seconds (user + system). */
interface ServerStats {
  commands: number;
  cpuSeconds: number;
}

async function serverStats(node: RedisClient): Promise<ServerStats> {
  const [commandstats, cpu] = await Promise.all([node.info('commandstats'), node.info('cpu')]);
  let commands = 0;
  for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    // The bench's own INFO calls are not the engine's.
    if (match[1] !== 'info') commands += Number(match[2]);
  }
  const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { commands, cpuSeconds: seconds('used_cpu_user') + seconds('used_cpu_sys') };
}

/** Per applied event, over the masters: commands, CPU µs, and each master's share of the CPU. */
interface RedisCost {
  commands: number;
  cpuUs: number;
  shares: number[];
}

type Mode = 'embedded' | 'redis' | 'cluster';

async function ingestRun(
  mode: Mode,
  { bodies, total }: { bodies: string[]; total: number },
  clusterNodes: string[],
) {
  const prefix = uniquePrefix('bench');
  const dataDir = mkdtempSync(join(tmpdir(), 'tideline-bench-'));
  const env: Record<string, string> = {
    LOG_LEVEL: 'warn',
    TIDELINE_DEMO: 'false',
    TIDELINE_DATA_DIR: dataDir,
    TIDELINE_PREFIX: prefix,
    // The same keys in both modes (production processes refuse the development ones).
    TIDELINE_WRITE_KEY: KEYS.write,
    TIDELINE_READ_KEY: KEYS.read,
    TIDELINE_ADMIN_KEY: KEYS.admin,
  };
  const redisEnv = {
    ...env,
    TIDELINE_STORE: 'redis',
    TIDELINE_QUEUE: 'bullmq',
    REDIS_CLUSTER_NODES: mode === 'cluster' ? clusterNodes.join(',') : '',
  };
  const procs =
    mode === 'embedded'
      ? [spawnTideline('start', env)]
      : [spawnTideline('api', redisEnv), spawnTideline('worker', redisEnv)];
  const redis =
    mode === 'embedded' ? null : connectRedis(mode === 'cluster' ? { clusterNodes } : { url: REDIS_URL });
  const url = await procs[0].url;
  const view =
    mode === 'embedded'
      ? null
      : await redisView(
          prefix,
          mode === 'cluster' ? { clusterNodes } : { url: REDIS_URL },
          queuePartitions(process.env, 'bullmq'),
        );
  await new Promise((r) => setTimeout(r, 500));
  if (redis) await redis.ping();
  const nodes = redis ? masters(redis) : [];
  const before = await Promise.all(nodes.map(serverStats));
  const cpu = () => procs.reduce((sum, p) => sum + processCpuSeconds(p.child.pid), 0);
  const cpuBefore = cpu();
  const t0 = performance.now();
  await post(url, bodies);
  const accepted = performance.now() - t0;
  await drained(view, url);
  const applied = performance.now() - t0;
  const tidelineCpuUs = ((cpu() - cpuBefore) * 1e6) / total;
  const after = await Promise.all(nodes.map(serverStats));
  await view?.queue.close();
  await view?.redis.quit();
  await Promise.all(procs.map((p) => p.stop()));
  let cost: RedisCost | null = null;
  if (redis) {
    const cpu = after.map((a, i) => a.cpuSeconds - before[i].cpuSeconds);
    const cpuTotal = cpu.reduce((a, b) => a + b, 0);
    const commands = after.reduce((n, a, i) => n + a.commands - before[i].commands, 0);
    cost = {
      commands: commands / total,
      cpuUs: (cpuTotal * 1e6) / total,
      shares: cpu.map((c) => (cpuTotal > 0 ? c / cpuTotal : 0)),
    };
    await removeKeys(prefix, redis);
    await redis.quit();
  }
  rmSync(dataDir, { recursive: true, force: true });
  return { accepted: (total / accepted) * 1000, applied: (total / applied) * 1000, tidelineCpuUs, cost };
}

/** Polls the queues (not the API's status, which counts profiles: a command per bucket on a cluster). */
async function drained(view: Awaited<ReturnType<typeof redisView>> | null, url: string): Promise<void> {
  const authorization = `Basic ${Buffer.from(`${KEYS.read}:`).toString('base64')}`;
  await waitFor(
    async () => {
      if (view) return (await view.partitions.pending(view.queue, INGEST_QUEUE)) === 0;
      const res = await fetch(`${url}/v1/status`, { headers: { authorization } });
      if (!res.ok) throw new Error(`/v1/status answered ${res.status}`);
      return ((await res.json()) as { pending: { ingest: number } }).pending.ingest === 0;
    },
    600_000,
    'the ingest queue to drain',
  );
}

/** The parse-and-answer limit and express's figure, measured on the same bodies just before a run. */
async function limitRun(events: { bodies: string[]; total: number }) {
  const limit = await measureLimit('node', events);
  const express = await measureLimit('express', events);
  log(
    `limit: node:http + JSON.parse ${fmt(limit.perSecond)}/s (${fmt(limit.cpuUs, 1)} µs CPU per event), express + express.json ${fmt(express.perSecond)}/s`,
  );
  return { limit, express };
}
const limits: { limit: LimitFigures; express: LimitFigures }[] = [];

interface MemoryFigures {
  rssMb: number;
  redisBytes: number;
  redisEventBytes: number;
}

async function memoryRun(profiles: number): Promise<MemoryFigures> {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'bench/profile-memory.ts', String(profiles)],
    {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL },
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1) as string) as MemoryFigures;
}

const report: string[] = [];
if (only.has('embedded') || only.has('redis') || values.cluster) {
  const events = stream(eventCount);
  const total = events.total;
  const modes: Mode[] = ['embedded', 'redis', 'cluster'];
  const clusterNodes = values.cluster ? await localCluster() : [];
  for (const mode of modes) {
    if (mode === 'cluster' ? !values.cluster : !only.has(mode)) continue;
    const accepted: number[] = [];
    const applied: number[] = [];
    const tidelineCpu: number[] = [];
    const costs: RedisCost[] = [];
    const shares: { accepted: number; applied: number; cpu: number }[] = [];
    for (let i = 0; i < runs; i++) {
      const l = await limitRun(events);
      limits.push(l);
      const r = await ingestRun(mode, events, clusterNodes);
      shares.push({
        accepted: r.accepted / l.limit.perSecond,
        applied: r.applied / l.limit.perSecond,
        cpu: r.tidelineCpuUs / l.limit.cpuUs,
      });
      accepted.push(r.accepted);
      applied.push(r.applied);
      tidelineCpu.push(r.tidelineCpuUs);
      if (r.cost) costs.push(r.cost);
      log(
        `${mode} run ${i + 1}/${runs}: accepted ${fmt(r.accepted)}/s, applied ${fmt(r.applied)}/s, ${fmt(r.tidelineCpuUs, 1)} µs Tideline CPU per event${r.cost ? `, ${fmt(r.cost.commands, 2)} Redis commands and ${fmt(r.cost.cpuUs, 1)} µs Redis CPU per event` : ''}`,
      );
    }
    report.push(
      `${mode.padEnd(9)} ${fmt(total)} events x ${runs} runs: accepted median ${fmt(median(accepted))} events/s, applied median ${fmt(median(applied))} events/s`,
      `          Tideline's processes: median ${fmt(median(tidelineCpu), 1)} µs CPU per applied event`,
      `          share of the parse-and-answer limit of the same run: applied median ${fmt(median(shares.map((s) => s.applied)), 2)}, accepted ${fmt(median(shares.map((s) => s.accepted)), 2)}; CPU per event ${fmt(median(shares.map((s) => s.cpu)), 1)} times the limit's`,
    );
    if (costs.length > 0) {
      report.push(
        `          per applied event: median ${fmt(median(costs.map((c) => c.commands)), 2)} Redis commands, ${fmt(median(costs.map((c) => c.cpuUs)), 1)} µs Redis CPU`,
      );
    }
    if (mode === 'cluster' && costs.length > 0) {
      const shares = costs[0].shares.map((_, m) => median(costs.map((c) => c.shares[m])));
      const equal = 1 / shares.length;
      const spread = Math.max(...shares.map((share) => Math.abs(share / equal - 1)));
      report.push(
        `          masters' shares of the Redis CPU: ${shares.map((share) => `${fmt(share * 100, 1)} %`).join(', ')} (furthest ${fmt(spread * 100, 1)} % from an equal share)`,
      );
    }
  }
}
if (limits.length > 0) {
  const perSecond = median(limits.map((l) => l.limit.perSecond));
  report.unshift(
    `limit     node:http + JSON.parse, the same bodies and clients, ${limits.length} runs: median ${fmt(perSecond)} events/s, ${fmt(median(limits.map((l) => l.limit.cpuUs)), 1)} µs CPU per event`,
    `          express + express.json: median ${fmt(median(limits.map((l) => l.express.perSecond)))} events/s, ${fmt(median(limits.map((l) => l.express.perSecond / l.limit.perSecond)), 2)} of the limit`,
  );
}
if (only.has('memory')) {
  const n = Number(values.profiles);
  const rss: number[] = [];
  const redisBytes: number[] = [];
  const eventBytes: number[] = [];
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const r = await memoryRun(n);
    rss.push(r.rssMb);
    redisBytes.push(r.redisBytes);
    eventBytes.push(r.redisEventBytes);
    log(
      `memory run ${i + 1}: ${fmt(r.rssMb)} MB RSS, ${fmt(r.redisBytes)} Redis bytes/profile, ${fmt(r.redisEventBytes)} bytes/event`,
    );
  }
  report.push(
    `memory    ${fmt(n)} profiles (10 traits, 5 tags): embedded peak RSS median ${fmt(median(rss))} MB; Redis median ${fmt(median(redisBytes))} bytes/profile`,
    `          Redis per stored event (history entry + dedupe marker): median ${fmt(median(eventBytes))} bytes`,
  );
}
await removeKeys('tltest-bench');
process.stdout.write(`\n${report.join('\n')}\n`);
