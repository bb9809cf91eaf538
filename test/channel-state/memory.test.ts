import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { MemoryChannelState } from '../../engine/adapters/channel-state/memory.ts';
import { channelStateConformance } from './conformance.ts';

channelStateConformance('memory', async () => ({ state: new MemoryChannelState(), cleanup: async () => {} }));

it('keeps suppressions, records, credits, cap windows and alerts across a restart when opened on a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-channel-state-'));
  try {
    const file = join(dir, 'channels.json');
    const first = await MemoryChannelState.open(file);
    await first.suppress('sms', '13800000001', { reason: 'opt_out', at: 1 });
    const claim = await first.claim({
      messageId: 'm1',
      profileKey: 'u:a',
      journeyId: 'j',
      channel: 'sms',
      now: 1,
      leaseMs: 1,
    });
    await first.settle({ ...claim.record, state: 'done', status: 'sent', providerId: 'biz' }, [
      'aliyun-sms:biz',
    ]);
    await first.grantCredit('app:o:T', 'accept');
    await first.reserve('m1', [{ key: 'u:a:sms:P1D', windowMs: 86_400_000, limit: 1 }], 1);
    await first.raiseAlert({
      id: 'j:sms',
      journeyId: 'j',
      channel: 'sms',
      provider: 'p',
      code: 'c',
      detail: '',
      at: 1,
    });
    await first.close();

    const second = await MemoryChannelState.open(file);
    assert.deepEqual(await second.suppressed('sms', '13800000001'), { reason: 'opt_out', at: 1 });
    assert.equal(
      (
        await second.claim({
          messageId: 'm1',
          profileKey: 'u:a',
          journeyId: 'j',
          channel: 'sms',
          now: 2,
          leaseMs: 1,
        })
      ).kind,
      'done',
    );
    assert.equal(await second.lookup('aliyun-sms:biz'), 'm1');
    assert.equal(await second.credits('app:o:T'), 1);
    assert.equal(
      (await second.reserve('m2', [{ key: 'u:a:sms:P1D', windowMs: 86_400_000, limit: 1 }], 2)).ok,
      false,
    );
    assert.equal((await second.alerts()).length, 1);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('reads a snapshot of an earlier version, whose suppressions and credits name the address, and writes digests', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tideline-channel-state-'));
  try {
    const file = join(dir, 'channels.json');
    writeFileSync(
      file,
      JSON.stringify({
        records: [],
        index: [],
        suppressions: [['sms:13800138003', { reason: 'stop', at: 3 }]],
        windows: [],
        credits: [['wxapp:oOld:TPL1', 2]],
        alerts: [],
      }),
    );
    const state = await MemoryChannelState.open(file);
    assert.deepEqual(await state.suppressed('sms', '13800138003'), { reason: 'stop', at: 3 });
    assert.equal(await state.credits('wxapp:oOld:TPL1'), 2);
    await state.close();
    const written = readFileSync(file, 'utf8');
    assert.ok(!written.includes('13800138003') && !written.includes('oOld'), written);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
