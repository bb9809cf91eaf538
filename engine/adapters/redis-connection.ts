import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster; the adapters take either. */
export type RedisClient = Redis | Cluster;

/**
 * Where Tideline's Redis is: one server (`url`), or a cluster when `clusterNodes` (seed `host:port`s,
 * or `redis://`/`rediss://` URLs whose first one's credentials and TLS apply to every node) is non-empty.
 */
export interface RedisTarget {
  /** Unset: ioredis' own default or the options' host and port. */
  url?: string;
  clusterNodes?: readonly string[];
}

export const isCluster = (target: RedisTarget): boolean => (target.clusterNodes?.length ?? 0) > 0;

function seedUrl(seed: string): URL {
  return new URL(seed.includes('://') ? seed : `redis://${seed}`);
}

/** `host:port,host:port` (REDIS_CLUSTER_NODES) as seeds; throws on one that is not a host and port. */
export function parseClusterNodes(text: string): string[] {
  const seeds = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const seed of seeds) {
    let url: URL;
    try {
      url = seedUrl(seed);
    } catch {
      throw new Error(`${seed} is not host:port`);
    }
    if (url.hostname === '' || url.port === '') throw new Error(`${seed} is not host:port`);
  }
  return seeds;
}

/**
 * Every Redis connection Tideline opens comes from here: an ioredis `Cluster` when the target is a
 * cluster (the per-node options go to each node's connection), else a plain `Redis`.
 */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (!isCluster(target))
    return target.url === undefined ? new Redis(options) : new Redis(target.url, options);
  const seeds = (target.clusterNodes ?? []).map(seedUrl);
  const { retryStrategy, enableOfflineQueue, lazyConnect, enableAutoPipelining, ...perNode } = options;
  const first = seeds[0];
  const auth = {
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const clusterOptions: ClusterOptions = {
    redisOptions: { ...auth, ...perNode },
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    ...(retryStrategy === undefined ? {} : { clusterRetryStrategy: retryStrategy }),
  };
  return new Cluster(
    seeds.map((u) => ({ host: u.hostname, port: Number(u.port) })),
    clusterOptions,
  );
}

/** The masters of a cluster, or the one server: where keyspace-wide commands (SCAN, INFO) must go. */
export function masters(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Every key matching a SCAN pattern, on each master of a cluster; calls `found` with each batch. */
export async function scanKeys(
  client: RedisClient,
  pattern: string,
  found: (node: Redis, keys: string[]) => Promise<void>,
): Promise<void> {
  // A cluster knows its nodes once it is ready.
  if (client instanceof Cluster && client.status !== 'ready') await client.ping();
  for (const node of masters(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await found(node, keys);
    } while (cursor !== '0');
  }
}

/**
 * Deletes keys found on `node` one command each (they may lie in different slots of that node, which a
 * multi-key DEL refuses on a cluster); how many were deleted.
 */
export async function deleteOnNode(node: Redis, keys: readonly string[]): Promise<number> {
  const pipeline = node.pipeline();
  for (const key of keys) pipeline.unlink(key);
  const replies = (await pipeline.exec()) ?? [];
  let deleted = 0;
  for (const [error, n] of replies) {
    if (error) throw error;
    deleted += Number(n);
  }
  return deleted;
}

/** `text` matched literally by a SCAN MATCH pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
