/**
 * bench/channels: messages per second each adapter sends through the queue, against its local fake
 * answering after a fixed latency. Usage:
 *   npm run bench:channels -- [--runs 3] [--messages 6000] [--latency 20,100] [--only sms,wechat,email]
 *     [--concurrency 400] [--workers 1]
 *
 * For each adapter and latency, each run starts the fakes in a child process (dev/fakes/serve.ts
 * `--latency`) and `--workers` `tideline worker` processes (Redis store, BullMQ, keep-alive
 * connections to the providers, `TIDELINE_CHECK_CONCURRENCY=--concurrency`) whose workspace's
 * channels.json points at the fakes. `--messages` users are written to the store, each with one
 * message in the outbox due now (what a journey's send step leaves behind), and their timer jobs are
 * added as the ingest jobs that decided them would add them (100 users a job, due at once: one job). Measured: from the first job added until the fake
 * took the last message (every send claimed, rendered, policy-checked, called and its outcome
 * committed to the user). Before each SMS and WeChat run, the send limit of that moment: the adapter's
 * provider client alone making the same calls, 256 at once (the dispatcher's lane), to the same fake
 * at the same latency; the run's sends/s are also given as a share of it. Also reported: the CPU the
 * workers spent per send (from /proc, which a busy machine bends less than sends/s) next to the send
 * limit's own CPU per send. The figure is the median over runs; the fakes, Redis and the workers share
 * the machine's cores. Progress on stderr, the table on stdout.
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { checkJobs, PROFILE_CHECKS_QUEUE } from '../engine/jobs/checks.ts';
import type { Profile } from '../model/profile.ts';
import { redisView } from '../dev/cluster.ts';
import { waitFor } from '../dev/engine.ts';
import { forkFakes } from '../dev/fork-fakes.ts';
import { createCommit, makeProfile } from '../dev/profiles.ts';
import { workspaceFolder } from '../dev/workspace-folder.ts';
import { removeKeys, spawnTideline, uniquePrefix } from '../dev/processes.ts';
import { fmt, log, median, processCpuSeconds } from './stats.ts';
import type { SendChannel } from '../model/channels.ts';
import pLimit from 'p-limit';
import { AliyunSmsProvider, MAX_BATCH_SIZE } from '../channels/aliyun-sms/provider.ts';
import { WechatTemplateProvider } from '../channels/wechat/template.ts';
import type { ProviderResult } from '../channels/provider.ts';
import type { OutboxMessage } from '../model/journeys.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    messages: { type: 'string', default: '6000' },
    latency: { type: 'string', default: '20,100' },
    only: { type: 'string', default: 'sms,wechat,email,fcm,apns,jpush' },
    concurrency: { type: 'string', default: '400' },
    workers: { type: 'string', default: '1' },
    'cpu-prof-dir': { type: 'string' },
  },
});
const runs = Number(values.runs);
const messages = Number(values.messages);
const latencies = values.latency.split(',').map(Number);
type Adapter = 'sms' | 'wechat' | 'email' | 'fcm' | 'apns' | 'jpush';
const adapters = values.only.split(',') as Adapter[];

/** The workspace the workers load: one template per channel, providers from the fakes' environment. */
function workspace(): string {
  const files: Record<string, object> = {};
  files['channels.json'] = {
    providers: {
      'aliyun-sms': {
        accessKeyId: '${ALIYUN_SMS_ACCESS_KEY_ID}',
        accessKeySecret: '${ALIYUN_SMS_ACCESS_KEY_SECRET}',
        endpoint: '${ALIYUN_SMS_ENDPOINT}',
        protocol: 'http',
      },
      wechat: {
        appId: 'wx_official_demo',
        secret: '${WECHAT_OFFICIAL_SECRET}',
        baseUrl: '${WECHAT_API_URL}',
      },
      smtp: {
        host: '${SMTP_HOST}',
        port: '${SMTP_PORT}',
        ignoreTLS: 'true',
        maxConnections: '20',
        from: 'Bench <bench@example.com>',
      },
      fcm: { serviceAccount: '${FCM_SERVICE_ACCOUNT_JSON}', baseUrl: '${FCM_API_URL}' },
      apns: {
        key: '${APNS_KEY}',
        keyId: '${APNS_KEY_ID}',
        teamId: '${APNS_TEAM_ID}',
        topic: '${APNS_TOPIC}',
        address: '${APNS_ADDRESS}',
        port: '${APNS_PORT}',
        rejectUnauthorized: 'false',
      },
      jpush: {
        appKey: '${JPUSH_APP_KEY}',
        masterSecret: '${JPUSH_MASTER_SECRET}',
        apnsProduction: 'true',
        baseUrl: '${JPUSH_API_URL}',
      },
    },
    policy: { promotionalSmsHours: null, pushMarketingPerDevicePerDay: 1000 },
  };
  const template = (id: string, channel: string, content: object) => {
    files[`templates/${id}.json`] = { id, version: 1, name: id, channel, content };
  };
  template('bench_sms', 'sms', {
    signName: '潮汐优选',
    templateCode: 'SMS_468120001',
    params: { name: '{{ profile.traits.firstName }}' },
    text: '【潮汐优选】{{ profile.traits.firstName }}，您的购物车还有商品未结算。拒收请回复R',
  });
  template('bench_wechat', 'wechat', {
    templateId: 'tmpl_bench',
    data: { thing1: '{{ profile.traits.firstName }}的购物车', thing2: '满300减30' },
  });
  template('bench_push', 'push', {
    title: '{{ profile.traits.firstName }}, your cart is waiting',
    body: '满300减30, today only',
    data: { screen: 'cart' },
  });
  template('bench_email', 'email', {
    subject: '{{ profile.traits.firstName }}, your cart is waiting',
    html: '<p>Your cart is waiting. <a href="{{ "https://shop.example.com/cart" | track }}">Back to it</a></p>',
  });
  return workspaceFolder(files);
}

const CHANNEL: Record<Adapter, SendChannel> = {
  sms: 'sms',
  wechat: 'wechat',
  email: 'email',
  fcm: 'push',
  apns: 'push',
  jpush: 'push',
};

/** A user who can be reached on every channel, with one message waiting in the outbox. */
function userWithMessage(i: number, run: string, adapter: Adapter, now: number): Profile {
  const key = `u:bench${i}`;
  const channel = CHANNEL[adapter];
  const push = adapter === 'fcm' || adapter === 'apns' || adapter === 'jpush';
  const profile = makeProfile(key, {
    wechat: { wx_official_demo: { openId: `obench${i}x`, at: now } },
    pushTokens: push
      ? [
          {
            // APNs device tokens are 64 hex digits.
            token: createHash('sha256').update(`device${i}`).digest('hex'),
            platform: adapter === 'apns' ? 'ios' : 'android',
            provider: adapter,
            seenAt: now,
          },
        ]
      : [],
    consent: {
      sms: { granted: true, at: now },
      email: { granted: true, at: now },
      push: { granted: true, at: now },
    },
    checkAt: now,
  });
  profile.traits = {
    ...profile.traits,
    phone: `139${String(i).padStart(5, '0')}555`,
    email: `b${i}@example.com`,
  };
  const message: OutboxMessage = {
    messageId: `bench:${run}:${i}`,
    journeyId: 'bench',
    enrollmentId: `bench:${run}:${i}`,
    version: 1,
    step: 'send',
    channel,
    template: `bench_${channel}`,
    trigger: { messageId: `t-${run}-${i}`, at: now },
    requestedAt: now,
    attempts: 0,
    dueAt: now,
  };
  profile.outbox = [message];
  return profile;
}

/** A run's sends/s, and the CPU its Tideline workers spent per send (ms, from /proc). */
interface Measured {
  rate: number;
  cpuMsPerSend: number;
}

async function measure(adapter: Adapter, latencyMs: number, run: number): Promise<Measured> {
  const fakes = await forkFakes([
    '--latency',
    String(latencyMs),
    '--only',
    CHANNEL[adapter],
    '--jpush-quota',
    '1000000000',
  ]);
  const prefix = uniquePrefix('bch');
  const env = {
    ...fakes.env,
    TIDELINE_STORE: 'redis',
    TIDELINE_QUEUE: 'bullmq',
    TIDELINE_PREFIX: prefix,
    TIDELINE_WORKSPACE: workspace(),
    TIDELINE_CHECK_CONCURRENCY: values.concurrency,
    TIDELINE_PUBLIC_URL: 'https://t.example.com',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  // `--cpu-prof-dir <dir>`: the workers write CPU profiles there.
  const nodeArgs = values['cpu-prof-dir'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`] : [];
  const workers = Array.from({ length: Number(values.workers) }, () =>
    spawnTideline('worker', env, nodeArgs),
  );
  // The workers' warnings and errors (a failed job, a provider refusing its configuration).
  for (const w of workers) {
    w.child.stdout?.on('data', (d: Buffer) => process.stderr.write(d));
    w.child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
  }
  const view = await redisView(prefix);
  try {
    const now = Date.now();
    const tag = `${adapter}${latencyMs}r${run}`;
    const profiles = Array.from({ length: messages }, (_, i) => userWithMessage(i, tag, adapter, now));
    for (let i = 0; i < profiles.length; i += 500) {
      await view.store.commit(profiles.slice(i, i + 500).map((p) => createCommit(p)));
    }
    // The workers are up once they have published the workspace (its templates).
    await waitFor(async () => (await view.redis.keys(`${prefix}:def*`)).length > 0, 30_000, 'the workers');
    await new Promise((r) => setTimeout(r, 1000));
    log(`  ${messages} users written; handing their messages over`);
    const cpuBefore = workers.map((w) => processCpuSeconds(w.child.pid));
    const started = performance.now();
    // As the ingest jobs that decided these sends would queue their timers: 100 users a batch.
    for (let i = 0; i < profiles.length; i += 100) {
      const checks = profiles.slice(i, i + 100).map((p) => ({ key: p.key, at: now }));
      await view.queue.addBulk(
        PROFILE_CHECKS_QUEUE,
        checkJobs(checks, Date.now(), { coalesce: true, minDelayMs: 0 }),
      );
    }
    let taken = 0;
    let reported = 0;
    await waitFor(
      async () => {
        taken = (await fakes.count())[CHANNEL[adapter]] ?? 0;
        if (performance.now() - reported > 5000) {
          reported = performance.now();
          log(`  the ${adapter} fake has taken ${taken} of ${messages}`);
        }
        return taken >= messages;
      },
      300_000,
      `${messages} ${adapter} messages (the fake has ${taken})`,
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = workers.reduce((sum, w, i) => sum + processCpuSeconds(w.child.pid) - cpuBefore[i], 0);
    if (taken > messages)
      throw new Error(`the fake took ${taken} messages for ${messages}: a message went twice`);
    return { rate: messages / seconds, cpuMsPerSend: (cpu * 1000) / messages };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await view.queue.close();
    await removeKeys(prefix, view.redis);
    await view.redis.quit();
    fakes.close();
  }
}

/** The dispatcher's lane: calls in flight at once to one provider from one process (its default). */
const LANE = 256;

/**
 * The send limit: the adapter's own provider client (its SDK, signing and keep-alive connections)
 * making the calls a send makes, `LANE` at once, straight to the same fake at the same latency; no
 * queue, store, rendering or policy. SMS goes in SendBatchSms calls of 100, as the dispatcher
 * batches it. Null for the adapters without one.
 */
async function sendLimit(adapter: Adapter, latencyMs: number, run: number): Promise<Measured | null> {
  if (adapter !== 'sms' && adapter !== 'wechat') return null;
  const fakes = await forkFakes(['--latency', String(latencyMs), '--only', CHANNEL[adapter]]);
  try {
    const now = Date.now();
    const lane = pLimit(LANE);
    const calls: (() => Promise<ProviderResult[]>)[] = [];
    const tag = `limit-${adapter}${latencyMs}r${run}`;
    if (adapter === 'sms') {
      const sms = new AliyunSmsProvider({
        accessKeyId: fakes.env.ALIYUN_SMS_ACCESS_KEY_ID,
        accessKeySecret: fakes.env.ALIYUN_SMS_ACCESS_KEY_SECRET,
        endpoint: fakes.env.ALIYUN_SMS_ENDPOINT,
        protocol: 'http',
      });
      for (let i = 0; i < messages; i += MAX_BATCH_SIZE) {
        const batchId = `${tag}:${i}`;
        const deliveries = Array.from({ length: Math.min(MAX_BATCH_SIZE, messages - i) }, (_, j) => ({
          messageId: `${tag}:${i + j}`,
          batchId,
          address: `139${String(i + j).padStart(5, '0')}555`,
          message: {
            signName: '潮汐优选',
            templateCode: 'SMS_468120001',
            params: { name: `Bench${i + j}` },
          },
          firstAttemptAt: now,
        }));
        calls.push(() => sms.sendBatch(deliveries));
      }
    } else {
      const wechat = new WechatTemplateProvider({
        apps: [{ appId: 'wx_official_demo', secret: fakes.env.WECHAT_OFFICIAL_SECRET }],
        baseUrl: fakes.env.WECHAT_API_URL,
      });
      for (let i = 0; i < messages; i++) {
        const delivery = {
          messageId: `${tag}:${i}`,
          address: { appId: 'wx_official_demo', openId: `obench${i}x` },
          message: { templateId: 'tmpl_bench', data: { thing1: `Bench${i}的购物车`, thing2: '满300减30' } },
          firstAttemptAt: now,
        };
        calls.push(async () => [await wechat.send(delivery)]);
      }
    }
    const started = performance.now();
    const cpu = process.cpuUsage();
    const results = (await Promise.all(calls.map((call) => lane(call)))).flat();
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const failed = results.filter((r) => r.class !== 'OK');
    if (failed.length > 0)
      throw new Error(
        `the send limit: ${failed.length} calls failed, the first ${JSON.stringify(failed[0])}`,
      );
    return { rate: messages / seconds, cpuMsPerSend: (used.user + used.system) / 1000 / messages };
  } finally {
    fakes.close();
  }
}

const rows: string[][] = [];
for (const adapter of adapters) {
  for (const latency of latencies) {
    const rates: number[] = [];
    const shares: number[] = [];
    const cpus: number[] = [];
    const limitCpus: number[] = [];
    for (let run = 1; run <= runs; run++) {
      // Measured before each run, so the run is read against the machine of that moment.
      const limit = await sendLimit(adapter, latency, run);
      const { rate, cpuMsPerSend } = await measure(adapter, latency, run);
      log(
        `${adapter} at ${latency} ms, run ${run}/${runs}: ${fmt(rate)} sends/s, worker CPU ${fmt(cpuMsPerSend, 3)} ms a send${limit === null ? '' : `; send limit ${fmt(limit.rate)}/s (CPU ${fmt(limit.cpuMsPerSend, 3)} ms a send), a share of ${fmt(rate / limit.rate, 2)}`}`,
      );
      rates.push(rate);
      cpus.push(cpuMsPerSend);
      if (limit !== null) {
        shares.push(rate / limit.rate);
        limitCpus.push(limit.cpuMsPerSend);
      }
    }
    rows.push([
      adapter,
      `${latency} ms`,
      fmt(median(rates)),
      shares.length > 0 ? fmt(median(shares), 2) : '',
      fmt(median(cpus), 3),
      limitCpus.length > 0 ? fmt(median(limitCpus), 3) : '',
      rates.map((r) => fmt(r)).join(', '),
    ]);
  }
}
console.log(
  `\n${messages} messages per run, ${values.workers} worker(s), check concurrency ${values.concurrency}\n`,
);
console.log(
  '| adapter | provider latency | sends/s (median) | share of the send limit (median) | worker CPU ms a send (median) | send limit CPU ms a send (median) | runs |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
