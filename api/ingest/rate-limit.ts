import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { presentedKey } from '../auth.ts';
import { InputError } from '../../model/input-error.ts';

/** How many ingestion requests one API key may make per window. */
export interface RateLimit {
  requests: number;
  windowSeconds: number;
}

/** A rate limit written `<requests>/<ISO 8601 duration>` (e.g. `1000/PT1S`); `off` is none. */
export function parseRateLimit(text: string): RateLimit | null | string {
  if (text.trim() === 'off') return null;
  const match = /^\s*(\d+)\s*\/\s*PT(\d+)([SM])\s*$/i.exec(text);
  if (!match) return 'must be <requests>/<duration>, e.g. 1000/PT1S or 60000/PT1M, or off';
  const requests = Number(match[1]);
  const windowSeconds = Number(match[2]) * (match[3].toUpperCase() === 'M' ? 60 : 1);
  if (requests < 1 || windowSeconds < 1) return 'needs at least 1 request per window of at least 1 second';
  return { requests, windowSeconds };
}

/**
 * Per-key limits on the ingestion routes (rate-limiter-flexible): counted in Redis when the processes
 * share one (every API process then sees the same count), in memory otherwise. A key over its limit
 * gets 429 with `Retry-After`, which the Segment and RudderStack SDKs wait out before retrying.
 */
export class IngestLimiter {
  private readonly limiter: RateLimiterMemory | RateLimiterRedis;

  constructor(
    readonly limit: RateLimit,
    redis?: { client: Redis | Cluster; prefix: string },
  ) {
    const options = { points: limit.requests, duration: limit.windowSeconds };
    this.limiter = redis
      ? new RateLimiterRedis({
          ...options,
          storeClient: redis.client,
          keyPrefix: `${redis.prefix}:ratelimit`,
          // Redis unreachable: count in this process rather than refuse or wave everything through.
          insuranceLimiter: new RateLimiterMemory(options),
        })
      : new RateLimiterMemory(options);
  }

  /** Express middleware, after authentication: the key is counted by its digest, never stored. */
  middleware() {
    return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const key = presentedKey(req) ?? '';
      const id = createHash('sha256').update(key).digest('base64url').slice(0, 24);
      try {
        await this.limiter.consume(id);
        next();
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) return next(err);
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        res.setHeader('Retry-After', String(seconds));
        next(
          new InputError(
            429,
            'rate_limited',
            `this key sent more than ${this.limit.requests} requests in ${this.limit.windowSeconds} s; retry after ${seconds} s`,
          ),
        );
      }
    };
  }
}
