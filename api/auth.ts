import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { InputError } from '../model/input-error.ts';

/** ingest: post events; read: profiles and reports; manage: everything, including erasure. */
export type Scope = 'ingest' | 'read' | 'manage';

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

/** API keys held as SHA-256 digests and compared in constant time. */
export class KeyRing {
  private readonly entries: { digest: Buffer; scopes: readonly Scope[] }[];

  constructor(keys: { key: string; scopes: readonly Scope[] }[]) {
    this.entries = keys.filter((k) => k.key).map((k) => ({ digest: digest(k.key), scopes: k.scopes }));
  }

  scopesOf(key: string): readonly Scope[] {
    const presented = digest(key);
    let scopes: readonly Scope[] = [];
    // Compare against every entry so timing says nothing about which key (if any) matched.
    for (const entry of this.entries) if (timingSafeEqual(entry.digest, presented)) scopes = entry.scopes;
    return scopes;
  }
}

/** The key from `Authorization: Basic base64(key:)` (Segment's form) or `Authorization: Bearer key`. */
export function presentedKey(req: Request): string | undefined {
  const header = req.headers.authorization;
  // The scheme is case-insensitive (RFC 9110): `basic` and `BEARER` are the same schemes.
  const scheme = /^(basic|bearer)\s+(.*)$/i.exec(header ?? '');
  if (scheme?.[1].toLowerCase() === 'basic') {
    const decoded = Buffer.from(scheme[2].trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? decoded : decoded.slice(0, colon);
  }
  if (scheme) return scheme[2].trim();
  const body = req.body as { writeKey?: unknown } | undefined;
  return typeof body?.writeKey === 'string' ? body.writeKey : undefined;
}

export function requireScope(keys: KeyRing, scope: Scope) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const key = presentedKey(req);
    const scopes = key ? keys.scopesOf(key) : [];
    if (scopes.includes(scope) || scopes.includes('manage')) {
      next();
    } else if (!key || scopes.length === 0) {
      res.setHeader('WWW-Authenticate', 'Basic realm="tideline"');
      next(
        new InputError(
          401,
          'unauthorized',
          'a valid API key is required (HTTP Basic user name or Bearer token)',
        ),
      );
    } else {
      next(new InputError(403, 'forbidden', `this key does not have the '${scope}' scope`));
    }
  };
}
