import assert from 'node:assert/strict';
import { it } from 'node:test';
import { applyInbound, type InboundFact } from '../../channels/inbound.ts';
import { MemoryChannelState } from '../../engine/adapters/channel-state/memory.ts';
import type { InboundMessage } from '../../model/events.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z');

const follow: InboundFact = {
  kind: 'call',
  dedupeKey: 'wechat:oAnn:1772416800:subscribe',
  call: { type: 'track', messageId: 'wx-1', anonymousId: 'oAnn', event: 'wechat_follow', timestamp: T0 },
};

it('takes a push once, and again when it could not be queued the first time', async () => {
  const state = new MemoryChannelState();
  const queued: InboundMessage[] = [];
  let down = true;
  const ingestor = {
    async accept(messages: InboundMessage[]) {
      if (down) throw new Error('queue unavailable');
      queued.push(...messages);
    },
  };
  const deps = { state, ingestor, now: () => T0 };
  await assert.rejects(applyInbound([follow], deps), /queue unavailable/);
  down = false;
  // The provider's retry of the same push.
  assert.deepEqual(await applyInbound([follow], deps), { applied: 1, duplicates: 0, unmatched: 0 });
  assert.deepEqual(await applyInbound([follow], deps), { applied: 0, duplicates: 1, unmatched: 0 });
  assert.deepEqual(
    queued.map((m) => [m.messageId, m.event, m.receivedAt]),
    [['wx-1', 'wechat_follow', T0]],
  );
});

it('counts receipts for messages it has no record of as unmatched', async () => {
  const state = new MemoryChannelState();
  const receipt: InboundFact = {
    kind: 'receipt',
    provider: 'aliyun-sms',
    messageId: 'nobody',
    providerId: 'biz-1',
    address: '13800138000',
    delivered: true,
    at: T0,
    dedupeKey: 'aliyun-sms:report:biz-1:13800138000',
  };
  const summary = await applyInbound([receipt], {
    state,
    ingestor: { accept: async () => {} },
    now: () => T0,
  });
  assert.deepEqual(summary, { applied: 1, duplicates: 0, unmatched: 1 });
});
