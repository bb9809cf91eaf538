/**
 * Runs the local provider fakes (Aliyun SMS, WeChat, SMTP, FCM, APNs, JPush; each speaks its
 * provider's wire format)
 * and prints the environment that points the demo workspace's `channels.json` at them:
 *
 *   npm run demo:fakes                     # the fakes, then `tideline start` on a fresh demo pointed at them
 *   npm run fakes                          # prints `export ...` lines, keeps running
 *   npm run fakes -- --write-env /tmp/fakes.env   # the same lines in a file, to source elsewhere
 *
 * Run from a terminal, each fake prints a line per message it takes.
 * Options: --latency <ms> (added to every answer, default 0), --only sms,wechat,email,push,
 * --jpush-quota <requests a minute> (default 600, JPush's free tier), --start (then run
 * `tideline start` with the fakes' environment and a new data folder, so the demo loads afresh;
 * stopping it stops the fakes), --accept-all-numbers (the SMS fake takes every number instead of
 * refusing those whose last four digits script an error, 0001-0009).
 * Forked with an IPC channel (bench/channels), it reports `{ type: 'ready', env }` and answers
 * `{ type: 'count' }` with how many messages each fake took.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { aliyunSmsEnv, startAliyunSmsFake } from './aliyun-sms.ts';
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
    start: { type: 'boolean', default: false },
    /** JPush's push API quota per minute (the free tier's 600 by default; benchmarks raise it). */
    'jpush-quota': { type: 'string', default: '600' },
    /** The SMS fake takes every number (no scripted refusals by the last four digits). */
    'accept-all-numbers': { type: 'boolean', default: false },
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
/** What each fake has taken so far, one line per message (printed as they come in a terminal). */
const taken: Record<string, () => string[]> = {};
const short = (value: unknown) => JSON.stringify(value).slice(0, 120);
const closers: (() => Promise<unknown>)[] = [];

if (only.has('sms')) {
  const sms = await startAliyunSmsFake({
    latencyMs,
    ...(values['accept-all-numbers'] ? { script: () => ({ kind: 'accept' as const }) } : {}),
  });
  Object.assign(env, {
    ...aliyunSmsEnv(sms),
  });
  counts.sms = () => sms.accepted.length;
  taken.sms = () => sms.accepted.map((m) => `${m.phone} ${m.signName} ${m.templateCode} ${short(m.params)}`);
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
  taken.wechat = () =>
    wechat.sent.map((m) => `${m.api} ${m.appId} ${m.touser} ${m.templateId} ${short(m.data)}`);
  closers.push(() => wechat.close());
}
if (only.has('email')) {
  const smtp = await startSmtpServer({ auth: false, latencyMs });
  Object.assign(env, { SMTP_HOST: smtp.host, SMTP_PORT: String(smtp.port), SMTP_IGNORE_TLS: 'true' });
  counts.email = () => smtp.inbox.length;
  taken.email = () => smtp.inbox.map((m) => `${m.envelope.to.join(', ')} "${m.mail.subject ?? ''}"`);
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
  taken.push = () => [
    ...fcm.received.map((m) => `fcm ${short(m.message)}`),
    ...apns.received.map((m) => `apns ${m.token.slice(0, 8)}… ${short(m.payload)}`),
    ...jpush.received.map((m) => `jpush ${short(m.push)}`),
  ];
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
  if (!values.start) {
    console.log(exports);
    console.error('fakes running; Ctrl-C stops them');
  }
  // A line per message a fake takes: where to watch what the journeys send.
  const printed: Record<string, number> = {};
  setInterval(() => {
    for (const [channel, list] of Object.entries(taken)) {
      const lines = list();
      for (const line of lines.slice(printed[channel] ?? 0)) console.error(`fake ${channel} took: ${line}`);
      printed[channel] = lines.length;
    }
  }, 500).unref();
}
let engine: ReturnType<typeof spawn> | undefined;
if (values.start) {
  // A new data folder: an existing one would keep the last run's demo (and its sandbox sends).
  const dataDir = process.env.TIDELINE_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'tideline-fakes-'));
  console.error(`fakes running; starting Tideline on them (data in ${dataDir})`);
  const bin = fileURLToPath(new URL('../../bin/tideline.mjs', import.meta.url));
  engine = spawn(process.execPath, [bin, 'start'], {
    env: { ...process.env, ...env, TIDELINE_DATA_DIR: dataDir },
    stdio: 'inherit',
  });
  // Ctrl-C reaches both: the engine drains, then the fakes close.
  engine.on('exit', (code) => void Promise.all(closers.map((c) => c())).then(() => process.exit(code ?? 0)));
}
const stop = () => void Promise.all(closers.map((c) => c())).then(() => process.exit(0));
// With --start the fakes close once the engine has drained: Ctrl-C reaches it from the terminal,
// a SIGTERM is passed on.
process.on('SIGTERM', () => (engine ? engine.kill('SIGTERM') : stop()));
process.on('SIGINT', () => (engine ? undefined : stop()));
