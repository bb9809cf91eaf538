/**
 * Runs the local provider fakes (Aliyun SMS, WeChat, SMTP, FCM, APNs, JPush; each speaks its
 * provider's wire format)
 * and prints the environment that points the demo workspace's `channels.json` at them:
 *
 *   npm run fakes                          # prints `export ...` lines, keeps running
 *   eval "$(npm run -s fakes -- --write-env /tmp/fakes.env)"; npm start   # or source that file
 *
 * Options: --latency <ms> (added to every answer, default 0), --only sms,wechat,email,push,
 * --jpush-quota <requests a minute> (default 600, JPush's free tier).
 * Forked with an IPC channel (bench/channels), it reports `{ type: 'ready', env }` and answers
 * `{ type: 'count' }` with how many messages each fake took.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAliyunSmsFake } from './aliyun-sms.ts';
import { startApnsFake } from './apns.ts';
import { startFcmFake } from './fcm.ts';
import { startJpushFake } from './jpush.ts';
import { startSmtpServer } from './smtp.ts';
import { startWechatFake } from './wechat.ts';

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '0' },
    only: { type: 'string', default: 'sms,wechat,email,push' },
    'write-env': { type: 'string' },
    /** JPush's push API quota per minute (the free tier's 600 by default; benchmarks raise it). */
    'jpush-quota': { type: 'string', default: '600' },
  },
});
const latencyMs = Number(values.latency);
const only = new Set(values.only.split(','));

/** The WeChat templates of the demo workspace, with their keyword keys (the fake checks them). */
function demoWechatTemplates(): Record<string, string[]> {
  const dir = fileURLToPath(new URL('../../fixtures/workspace/templates/', import.meta.url));
  const templates: Record<string, string[]> = { tmpl_bench: ['thing1', 'thing2'] };
  for (const file of readdirSync(dir)) {
    const doc = JSON.parse(readFileSync(dir + file, 'utf8')) as {
      channel: string;
      content: { templateId?: string; data?: Record<string, string> };
    };
    if ((doc.channel === 'wechat' || doc.channel === 'miniprogram') && doc.content.templateId) {
      templates[doc.content.templateId] = Object.keys(doc.content.data ?? {});
    }
  }
  return templates;
}

const env: Record<string, string> = {};
const counts: Record<string, () => number> = {};
const closers: (() => Promise<unknown>)[] = [];

if (only.has('sms')) {
  const sms = await startAliyunSmsFake({ latencyMs });
  Object.assign(env, {
    ALIYUN_SMS_ACCESS_KEY_ID: sms.accessKeyId,
    ALIYUN_SMS_ACCESS_KEY_SECRET: sms.accessKeySecret,
    ALIYUN_SMS_ENDPOINT: sms.endpoint,
    ALIYUN_SMS_PROTOCOL: 'http',
  });
  counts.sms = () => sms.accepted.length;
  closers.push(() => sms.close());
}
if (only.has('wechat')) {
  const secret = 'demo-secret';
  const wechat = await startWechatFake({
    apps: { wx_official_demo: secret, wx_miniprogram_demo: secret },
    templates: demoWechatTemplates(),
    latencyMs,
  });
  Object.assign(env, {
    WECHAT_API_URL: wechat.url,
    WECHAT_OFFICIAL_SECRET: secret,
    WECHAT_MINIPROGRAM_SECRET: secret,
  });
  counts.wechat = () => wechat.sent.length;
  closers.push(() => wechat.close());
}
if (only.has('email')) {
  const smtp = await startSmtpServer({ auth: false, latencyMs });
  Object.assign(env, { SMTP_HOST: smtp.host, SMTP_PORT: String(smtp.port), SMTP_IGNORE_TLS: 'true' });
  counts.email = () => smtp.inbox.length;
  closers.push(() => smtp.close());
}

if (only.has('push')) {
  const [fcm, apns, jpush] = await Promise.all([
    startFcmFake({ latencyMs }),
    startApnsFake({ latencyMs }),
    startJpushFake({ latencyMs, rateLimitQuota: Number(values['jpush-quota']) }),
  ]);
  Object.assign(env, {
    FCM_SERVICE_ACCOUNT_JSON: JSON.stringify(fcm.serviceAccount),
    FCM_API_URL: fcm.url,
    APNS_KEY: apns.credentials.key,
    APNS_KEY_ID: apns.credentials.keyId,
    APNS_TEAM_ID: apns.credentials.teamId,
    APNS_TOPIC: apns.topic,
    APNS_ADDRESS: apns.address,
    APNS_PORT: String(apns.port),
    // The fake's certificate is self-signed.
    APNS_REJECT_UNAUTHORIZED: 'false',
    JPUSH_APP_KEY: jpush.appKey,
    JPUSH_MASTER_SECRET: jpush.masterSecret,
    JPUSH_API_URL: jpush.url,
  });
  counts.push = () => fcm.received.length + apns.received.length + jpush.received.length;
  closers.push(
    () => fcm.close(),
    () => apns.close(),
    () => jpush.close(),
  );
}

/** Single-quoted for the shell (PEM keys and JSON hold newlines and quotes). */
const quote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
const exports = Object.entries(env)
  .map(([k, v]) => `export ${k}=${quote(v)}`)
  .join('\n');
if (values['write-env']) writeFileSync(values['write-env'], `${exports}\n`);
if (process.send) {
  process.send({ type: 'ready', env });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'count') {
      process.send!({
        type: 'count',
        counts: Object.fromEntries(Object.entries(counts).map(([k, f]) => [k, f()])),
      });
    }
  });
  process.on('disconnect', () => void Promise.all(closers.map((c) => c())).then(() => process.exit(0)));
} else {
  console.log(exports);
  console.error('fakes running; Ctrl-C stops them');
}
process.on('SIGTERM', () => void Promise.all(closers.map((c) => c())).then(() => process.exit(0)));
process.on('SIGINT', () => void Promise.all(closers.map((c) => c())).then(() => process.exit(0)));
