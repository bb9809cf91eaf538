import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../../dev/engine.ts';
import { type AliyunSmsFake, deliveredReport } from '../../dev/fakes/aliyun-sms.ts';
import type { FakeSmtp } from '../../dev/fakes/smtp.ts';

/** An Aliyun SMS template addressing the user by name. */
export const CART_SMS = {
  id: 'cart_sms',
  version: 1,
  name: 'Cart SMS',
  channel: 'sms',
  content: { signName: '潮汐优选', templateCode: 'SMS_1', params: { name: '{{ profile.traits.name }}' } },
};

/** The Aliyun push token of `sendingWorkspace`. */
export const CALLBACK_TOKEN = 'recipient-callback-token';

/**
 * A workspace whose `cart` journey sends an SMS (Aliyun fake) then an email with a tracked link and
 * the unsubscribe link (SMTP fake), under a frequency cap.
 */
export function sendingWorkspace(sms: AliyunSmsFake, smtp: FakeSmtp, callbackToken = CALLBACK_TOKEN) {
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
    'templates/cart_sms.json': CART_SMS,
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

/** A user no other test names: their id, phone and email are what the scans look for. */
export function person() {
  const tag = randomBytes(5).toString('hex');
  const digits = String(parseInt(tag, 16)).padStart(8, '0').slice(-8);
  return {
    userId: `erasee-${tag}`,
    anonymousId: `anon-${tag}`,
    phone: `139${digits}`,
    email: `erasee.${tag}@example.com`,
  };
}
export type Person = ReturnType<typeof person>;

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

export async function call(url: string, method: string, path: string, key: string | null, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: basic(key) } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

/**
 * Gives the user a history through the API at `url`: an identify with both addresses and consent,
 * a page and a cart_add; waits for the SMS and the email at the fakes, posts the SMS's receipt,
 * opens the email's tracked link (`local` maps a link's public URL to the API) and its one-click
 * unsubscribe, and waits for the receipt, the click and consent off to reach the profile.
 */
export async function live(
  p: Person,
  url: string,
  keys: { write: string; read: string },
  fakes: { sms: AliyunSmsFake; smtp: FakeSmtp },
  local: (link: string) => string,
) {
  const at = new Date().toISOString();
  const { status } = await call(url, 'POST', '/v1/batch', keys.write, {
    batch: [
      {
        type: 'identify',
        userId: p.userId,
        anonymousId: p.anonymousId,
        traits: { name: 'Eve', phone: p.phone, email: p.email, consent: { sms: true, email: true } },
        timestamp: at,
      },
      { type: 'page', userId: p.userId, name: 'Cart', properties: { email: p.email }, timestamp: at },
      { type: 'track', userId: p.userId, event: 'cart_add', properties: { sku: 'sku-9' }, timestamp: at },
    ],
  });
  assert.equal(status, 200);
  await waitFor(async () => fakes.sms.accepted.some((s) => s.phone === p.phone), 30_000, 'the SMS');
  await waitFor(
    async () => fakes.smtp.inbox.some((m) => m.envelope.to.includes(p.email)),
    30_000,
    'the email',
  );
  const sms = fakes.sms.accepted.find((s) => s.phone === p.phone)!;
  const receipt = await call(url, 'POST', `/v1/inbound/aliyun-sms/report?token=${CALLBACK_TOKEN}`, null, [
    deliveredReport(p.phone, sms.bizId),
  ]);
  assert.equal(receipt.status, 200);
  const mail = fakes.smtp.inbox.find((m) => m.envelope.to.includes(p.email))!;
  const { click, unsubscribe } = linksOf(mail.mail.text ?? '');
  const clicked = await fetch(local(click), { redirect: 'manual' });
  assert.equal(clicked.status, 302);
  assert.equal(clicked.headers.get('location'), 'https://shop.example.com/cart?from=email');
  assert.equal((await fetch(local(unsubscribe), { method: 'POST' })).status, 200);
  await waitFor(
    async () => {
      const { body } = await call(url, 'GET', `/v1/users/${p.userId}`, keys.read);
      const events = ((body?.events ?? []) as { event: string }[]).map((e) => e.event);
      const view = (body?.profile ?? body) as { channels?: { email?: { consent?: { granted?: boolean } } } };
      const email = view?.channels?.email;
      return (
        events.includes('message_clicked') &&
        events.includes('message_delivered') &&
        email?.consent?.granted === false
      );
    },
    30_000,
    'the click, the receipt and the unsubscribe in the profile',
  );
  await stillSuppressed(url, keys.read, p);
  return { click, unsubscribe };
}

/** The email address is on the suppression list as an opt-out. */
export async function stillSuppressed(url: string, readKey: string, p: Person) {
  const { body } = await call(url, 'GET', `/v1/suppressions/email/${p.email}`, readKey);
  assert.equal(body?.reason, 'opt_out', 'the opt-out is kept');
}
