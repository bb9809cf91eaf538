import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../cli/config.ts';
import { startAliyunSmsFake, type AliyunSmsFake } from '../../dev/fakes/aliyun-sms.ts';
import { KEYS, startTestEngine, type TestEngine, waitFor } from '../../dev/engine.ts';
import { workspaceFolder } from '../../dev/workspace-folder.ts';

/** The value of one sample of the exposition text (0 when absent). */
const sample = (text: string, name: string, labels = ''): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
};

describe('Prometheus metrics', () => {
  let fake: AliyunSmsFake;
  let t: TestEngine;
  before(async () => {
    fake = await startAliyunSmsFake();
    const dir = workspaceFolder({
      'channels.json': {
        providers: {
          'aliyun-sms': {
            accessKeyId: fake.accessKeyId,
            accessKeySecret: fake.accessKeySecret,
            endpoint: fake.endpoint,
            protocol: 'http',
          },
        },
        policy: { promotionalSmsHours: null },
      },
      'templates/hi.json': {
        id: 'hi',
        version: 1,
        name: 'Hi',
        channel: 'sms',
        content: { signName: '潮汐优选', templateCode: 'SMS_1', params: {} },
      },
      'journeys/hi.json': {
        id: 'hi',
        version: 1,
        name: 'Hi',
        trigger: { type: 'event', event: 'cart_add' },
        steps: [{ id: 'sms', type: 'send', channel: 'sms', template: 'hi' }],
      },
    });
    t = await startTestEngine({ workspaceDir: dir, channelsFile: join(dir, 'channels.json') });
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  const scrape = async (key: string | null = KEYS.read) => {
    const res = await fetch(`${t.url}/metrics`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };

  it('serves /metrics to the read key only', async () => {
    assert.equal((await scrape(null)).status, 401);
    assert.equal((await scrape(KEYS.write)).status, 403);
    const { status, type, text } = await scrape();
    assert.equal(status, 200);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    assert.match(text, /tideline_process_resident_memory_bytes \d+/);
    assert.match(text, /tideline_queue_pending_jobs\{queue="ingest"\} 0/);
  });

  it('counters move with a small load: requests, ingested messages, sends by outcome, latency', async () => {
    const before = (await scrape()).text;
    const users = ['m1', 'm2', 'm3'];
    for (const [i, userId] of users.entries()) {
      const at = new Date().toISOString();
      const { status } = await t.request('POST', '/v1/batch', {
        key: KEYS.write,
        body: {
          batch: [
            {
              type: 'identify',
              userId,
              traits: { phone: `1380013810${i}`, consent: { sms: true } },
              timestamp: at,
            },
            { type: 'track', userId, event: 'cart_add', messageId: `m-cart-${userId}`, timestamp: at },
          ],
        },
      });
      assert.equal(status, 200);
    }
    await waitFor(async () => fake.accepted.length === 3, 10_000, 'three SMS');
    let after = '';
    await waitFor(async () => {
      after = (await scrape()).text;
      return (
        sample(after, 'tideline_messages_total', 'channel="sms",provider="aliyun-sms",outcome="sent"') === 3
      );
    });
    assert.equal(
      sample(after, 'tideline_ingested_messages_total') - sample(before, 'tideline_ingested_messages_total'),
      6,
    );
    const batches = 'route="/v1/batch",method="POST",status="200"';
    assert.equal(
      sample(after, 'tideline_http_requests_total', batches) -
        sample(before, 'tideline_http_requests_total', batches),
      3,
    );
    assert.equal(sample(after, 'tideline_message_handover_seconds_count', 'provider="aliyun-sms"'), 3);
    assert.ok(sample(after, 'tideline_http_request_duration_seconds_count', 'route="/v1/batch"') >= 3);
    // Labels name routes, never a user: no label per id.
    assert.doesNotMatch(after, /m1|m2|m3|13800138/);
  });
});

it('serves /metrics on TIDELINE_METRICS_PORT for a worker, which has no API', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const worker = await startTestEngine({ metricsPort: port }, { api: false, worker: true });
  try {
    assert.equal(worker.engine.url, null);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /tideline_queue_pending_jobs\{queue="ingest"\}/);
  } finally {
    await worker.close();
  }
  assert.equal(loadConfig('worker', { TIDELINE_METRICS_PORT: '9464' }).metricsPort, 9464);
});
