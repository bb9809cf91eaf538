import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Redis } from 'ioredis';
import type { AliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import type { FakeSmtp } from '../../dev/fakes/smtp.ts';

/** `what needle` for each needle found in `bytes`. */
function found(where: string, bytes: Buffer, needles: readonly string[]): string[] {
  return needles.filter((n) => bytes.includes(Buffer.from(n))).map((n) => `${where} holds ${n}`);
}

/** Every key of the Redis (not only one prefix), its name and its whole value, searched for the needles. */
export async function redisTraces(redis: Redis, needles: readonly string[]): Promise<string[]> {
  const traces: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const key of keys) {
      const name = key.toString();
      const type = await redis.type(key);
      let parts: Buffer[] = [];
      if (type === 'string') parts = [(await redis.getBuffer(key)) ?? Buffer.alloc(0)];
      else if (type === 'hash') parts = await redis.hgetallBuffer(key).then((h) => flat(h));
      else if (type === 'list') parts = await redis.lrangeBuffer(key, 0, -1);
      else if (type === 'set') parts = await redis.smembersBuffer(key);
      else if (type === 'zset') parts = await redis.zrangeBuffer(key, '0', '-1');
      else if (type === 'stream')
        parts = (await redis.xrangeBuffer(key, '-', '+')).flatMap(([id, fields]) => [id, ...fields]);
      traces.push(...found(`key ${name}`, key, needles));
      traces.push(...found(`the value of ${name}`, Buffer.concat(parts), needles));
    }
  } while (cursor !== '0');
  return traces;
}

function flat(hash: Record<string, Buffer>): Buffer[] {
  return Object.entries(hash).flatMap(([field, value]) => [Buffer.from(field), value]);
}

/** Every file under `dir`, read as bytes, searched for the needles (and every file name). */
export function fileTraces(dir: string, needles: readonly string[]): string[] {
  const traces: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      traces.push(...found(`file name ${relative(dir, full)}`, Buffer.from(entry), needles));
      if (statSync(full).isDirectory()) walk(full);
      else traces.push(...found(`file ${relative(dir, full)}`, readFileSync(full), needles));
    }
  };
  walk(dir);
  return traces;
}

/**
 * A workspace whose `cart` journey sends an SMS (Aliyun fake) then an email with a tracked link and
 * the unsubscribe link (SMTP fake), under a frequency cap.
 */
export function sendingWorkspace(sms: AliyunSmsFake, smtp: FakeSmtp, callbackToken: string) {
  return {
    'channels.json': {
      providers: {
        'aliyun-sms': {
          accessKeyId: sms.accessKeyId,
          accessKeySecret: sms.accessKeySecret,
          endpoint: sms.endpoint,
          protocol: 'http',
          callbackToken,
        },
        smtp: {
          host: smtp.host,
          port: String(smtp.port),
          ignoreTLS: 'true',
          from: 'Shop <shop@example.com>',
        },
      },
      policy: { promotionalSmsHours: null, frequencyCaps: [{ channel: 'any', limit: 5, window: 'P1D' }] },
    },
    'templates/cart_sms.json': {
      id: 'cart_sms',
      version: 1,
      name: 'Cart SMS',
      channel: 'sms',
      content: { signName: '潮汐优选', templateCode: 'SMS_1', params: { name: '{{ profile.traits.name }}' } },
    },
    'templates/cart_email.json': {
      id: 'cart_email',
      version: 1,
      name: 'Cart email',
      channel: 'email',
      content: {
        subject: 'Your cart, {{ profile.traits.name }}',
        html: '<p><a href="{{ "https://shop.example.com/cart?from=email" | track }}">Your cart</a></p><p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>',
        text: 'Your cart: {{ "https://shop.example.com/cart?from=email" | track }}\nUnsubscribe: {{ links.unsubscribe }}',
      },
    },
    'journeys/cart.json': {
      id: 'cart',
      version: 1,
      name: 'Cart',
      trigger: { type: 'event', event: 'cart_add' },
      steps: [
        { id: 'sms', type: 'send', channel: 'sms', template: 'cart_sms' },
        { id: 'email', type: 'send', channel: 'email', template: 'cart_email' },
      ],
    },
  };
}

/** The click and unsubscribe links of an email the SMTP fake took, from its text part. */
export function linksOf(text: string): { click: string; unsubscribe: string } {
  const click = /Your cart: (\S+)/.exec(text)?.[1];
  const unsubscribe = /Unsubscribe: (\S+)/.exec(text)?.[1];
  if (!click || !unsubscribe) throw new Error(`no links in the email:\n${text}`);
  return { click, unsubscribe };
}
