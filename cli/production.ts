/**
 * What production processes (`tideline api`, `tideline worker`) refuse to start with: the public
 * development keys, no link secret (links signed by one process must open on every other), no public
 * URL when a provider could carry links, a link secret that differs from the one the deployment's
 * other processes use, and a Redis that may evict keys. Each refusal says what to set.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { loadChannels } from '../channels/config.ts';
import { ConfigError, type Config, DEV_KEYS } from './config.ts';
import { connectRedis, masters } from '../engine/adapters/redis-connection.ts';
import { describeRedis, redisTarget } from './start/backends.ts';

/** The shortest key or link secret accepted in production. */
/** Where a deployment keeps the fingerprint of its link secret, which every process checks. */
export const linkSecretKey = (prefix: string): string => `${prefix}:link-secret-fingerprint`;

export const MIN_SECRET_LENGTH = 16;

const KEY_VARIABLES = [
  ['TIDELINE_WRITE_KEY', 'write'],
  ['TIDELINE_READ_KEY', 'read'],
  ['TIDELINE_ADMIN_KEY', 'admin'],
] as const;

/** The configuration faults of a production process, each saying what to set; none: it may start. */
export async function productionFaults(config: Config, env: NodeJS.ProcessEnv): Promise<string[]> {
  const faults: string[] = [];
  const devValues = new Set<string>(Object.values(DEV_KEYS));
  for (const [name, scope] of KEY_VARIABLES) {
    const value = env[name];
    if (!value) faults.push(`${name} is not set: set a ${scope} key of your own`);
    else if (devValues.has(value) || value.length < MIN_SECRET_LENGTH)
      faults.push(
        `${name} is a development key or shorter than ${MIN_SECRET_LENGTH} characters: use a random one (openssl rand -hex 24)`,
      );
  }
  const { write, read, admin } = config.keys;
  if (write && (write === read || write === admin || read === admin))
    faults.push('TIDELINE_WRITE_KEY, TIDELINE_READ_KEY and TIDELINE_ADMIN_KEY must differ');
  const secret = env.TIDELINE_LINK_SECRET;
  if (!secret)
    faults.push(
      'TIDELINE_LINK_SECRET is not set: set the same random value (openssl rand -hex 32) on every api and worker process, or their click and unsubscribe links do not open',
    );
  else if (secret.length < MIN_SECRET_LENGTH)
    faults.push(`TIDELINE_LINK_SECRET is shorter than ${MIN_SECRET_LENGTH} characters`);
  const channels = await loadChannels(config.channelsFile, env);
  const providers = Object.keys(channels.providers);
  if (providers.length > 0) {
    const url = env.TIDELINE_PUBLIC_URL;
    if (!url)
      faults.push(
        `TIDELINE_PUBLIC_URL is not set and providers are configured (${providers.join(', ')}): set where recipients reach the API (https://t.example.com), or the links in messages point at localhost`,
      );
    else if (!/^https?:\/\/[^/\s]+/.test(url))
      faults.push(`TIDELINE_PUBLIC_URL=${url} is not an http(s) URL`);
  }
  return faults;
}

/** What the deployment's processes compare: an HMAC of a constant under the link secret (not the secret). */
export const linkSecretFingerprint = (secret: string): string =>
  createHmac('sha256', secret).update('tideline link secret fingerprint').digest('hex');

/**
 * The checks that need the deployment's Redis: its eviction policy (an evicting Redis drops queued
 * jobs and state), and the link secret, whose fingerprint the first process keeps there and every
 * later process must match.
 */
export async function deploymentFaults(config: Config): Promise<string[]> {
  const redis = connectRedis(redisTarget(config), {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    enableOfflineQueue: false,
  });
  // Connection errors are answered below; not logged twice by ioredis.
  redis.on('error', () => {});
  const faults: string[] = [];
  try {
    try {
      await redis.connect();
    } catch (error) {
      throw new ConfigError(
        `Redis at ${describeRedis(config)} is unreachable (${(error as Error).message}): start it or set REDIS_URL (or REDIS_CLUSTER_NODES)`,
      );
    }
    let policy: string | undefined;
    // Every master of a cluster: one evicting shard is enough to lose work.
    for (const node of masters(redis)) {
      try {
        const answer = (await node.config('GET', 'maxmemory-policy')) as string[];
        if (answer[1] !== 'noeviction') policy ??= answer[1];
      } catch {
        // Managed Redis services may refuse CONFIG: their documented policy is the operator's to check.
      }
    }
    if (policy !== undefined)
      faults.push(
        `Redis maxmemory-policy is ${policy}: set it to noeviction (an evicting Redis drops queued events and send claims)`,
      );
    const key = linkSecretKey(config.prefix);
    const mine = linkSecretFingerprint(config.linkSecret);
    await redis.set(key, mine, 'NX');
    const kept = await redis.get(key);
    if (kept !== mine)
      faults.push(
        `TIDELINE_LINK_SECRET differs from the one the other processes of this deployment (prefix ${config.prefix}) use: set the same value everywhere (to rotate it on purpose, stop every process and delete the Redis key ${key}; links already sent stop working)`,
      );
  } finally {
    redis.disconnect();
  }
  return faults;
}

/** Refuses (ConfigError listing every fault) a production process with an unsafe configuration. */
export async function refuseUnsafeProduction(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<void> {
  const faults = await productionFaults(config, env);
  if (faults.length === 0) faults.push(...(await deploymentFaults(config)));
  if (faults.length > 0)
    throw new ConfigError(
      `refusing to start with an unsafe production configuration:\n  - ${faults.join('\n  - ')}`,
    );
  logger.info({}, 'production configuration checked: own keys, shared link secret, public URL');
}
