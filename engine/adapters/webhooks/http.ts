/**
 * Webhook steps over HTTP: a JSON POST with the step's timeout; the answer's JSON body if any.
 *
 * A journey's author chooses the URL, so the call must not reach what only the server can reach
 * (the cloud metadata service, the server's own loopback services, the private network): every
 * address the host name resolves to is checked at connection time (the address connected to is the
 * one checked, so a DNS answer that changes between a check and the connection cannot slip through),
 * and loopback, private, link-local, carrier-grade NAT, multicast and reserved ranges are refused
 * unless the operator allows them.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Json } from '../../../model/json.ts';
import type { WebhookCaller } from '../../../journeys/webhook.ts';

/** Addresses a webhook may not reach unless allowed: [network, prefix length, family]. */
const INTERNAL: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const internal = new BlockList();
for (const [network, prefix, family] of INTERNAL) internal.addSubnet(network, prefix, family);

/** The most an answer's body is read (a webhook answers a small JSON document). */
const MAX_ANSWER_BYTES = 1_000_000;

export interface WebhookGuardOptions {
  /**
   * Networks a webhook may reach although they are internal, as addresses or CIDR ranges
   * (`127.0.0.1`, `10.20.0.0/16`, `::1`).
   */
  allow?: readonly string[];
}

/** Parses `TIDELINE_WEBHOOK_ALLOW`'s entries; throws naming the first that is not an address or range. */
export function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const [address, bits] = entry.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
      throw new Error(`'${entry}' is not an IP address or CIDR range (e.g. 127.0.0.1, 10.0.0.0/8, ::1)`);
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** IPv4 addresses mapped into IPv6 (`::ffff:127.0.0.1`) are judged as the IPv4 address. */
function unmapped(address: string): [string, 'ipv4' | 'ipv6'] {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return [mapped[1], 'ipv4'];
  return [address, isIP(address) === 6 ? 'ipv6' : 'ipv4'];
}

/** Why an address may not be reached, or null when it may. */
export function refusal(address: string, allowed: BlockList): string | null {
  const [ip, family] = unmapped(address);
  if (!internal.check(ip, family) || allowed.check(ip, family)) return null;
  return `webhook refused: ${address} is an internal address (loopback, private, link-local or metadata); allow it with TIDELINE_WEBHOOK_ALLOW`;
}

class RefusedAddress extends Error {}

/** dns.lookup, failing when any address the name resolves to is internal. */
function guardedLookup(allowed: BlockList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true } as LookupAllOptions, (error, addresses) => {
      if (error) return callback(error, '', 4);
      const list = addresses as LookupAddress[];
      for (const { address } of list) {
        const why = refusal(address, allowed);
        if (why) return callback(new RefusedAddress(why), '', 4);
      }
      if ((options as { all?: boolean }).all)
        return (callback as (e: null, a: LookupAddress[]) => void)(null, list);
      const [first] = list;
      if (!first) return callback(new Error(`${hostname} has no address`), '', 4);
      callback(null, first.address, first.family);
    });
  };
}

interface Answer {
  status: number;
  text: string;
}

function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  lookup: LookupFunction,
): Promise<Answer> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...headers,
          'content-length': String(Buffer.byteLength(body)),
        },
        lookup,
        signal: AbortSignal.timeout(timeoutMs),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The webhook caller, refusing internal addresses except those `allow` names. */
export function webhookCaller(options: WebhookGuardOptions = {}): WebhookCaller {
  const allowed = allowList(options.allow ?? []);
  const lookup = guardedLookup(allowed);
  return async ({ url, headers, body, timeoutMs }) => {
    try {
      const target = new URL(url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:')
        return {
          ok: false,
          status: null,
          body: null,
          error: `webhook refused: ${target.protocol} is not HTTP`,
        };
      // An address written in the URL is connected to without a lookup: checked here.
      const literal = target.hostname.replace(/^\[|\]$/g, '');
      const why = isIP(literal) ? refusal(literal, allowed) : null;
      if (why) return { ok: false, status: null, body: null, error: why };
      const res = await post(target, headers, JSON.stringify(body), timeoutMs, lookup);
      let parsed: Json | null = null;
      try {
        parsed = res.text ? (JSON.parse(res.text) as Json) : null;
      } catch {
        parsed = null;
      }
      return { ok: res.status >= 200 && res.status < 300, status: res.status, body: parsed };
    } catch (error) {
      const timedOut =
        (error instanceof DOMException || error instanceof Error) &&
        (error.name === 'TimeoutError' || error.name === 'AbortError');
      return {
        ok: false,
        status: null,
        body: null,
        error: timedOut ? `no answer within ${timeoutMs} ms` : (error as Error).message,
      };
    }
  };
}

/** The default: no internal address allowed. */
export const httpWebhookCaller: WebhookCaller = webhookCaller();
