import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChannelState, ClaimRequest } from '../../ports/channel-state.ts';

export type MakeState = () => Promise<{ state: ChannelState; cleanup: () => Promise<void> }>;

const T0 = Date.UTC(2026, 10, 22, 2, 0);

const request = (messageId: string, now: number): ClaimRequest => ({
  messageId,
  profileKey: 'u:ann',
  journeyId: 'cart',
  channel: 'sms',
  version: 2,
  step: 'reminder',
  template: 'cart_sms',
  now,
  leaseMs: 30_000,
});

/** What every channel-state adapter answers the same way. */
export function channelStateConformance(name: string, make: MakeState): void {
  describe(`channel state conformance: ${name}`, () => {
    const withState = (fn: (state: ChannelState) => Promise<void>) => async () => {
      const { state, cleanup } = await make();
      try {
        await fn(state);
      } finally {
        await cleanup();
      }
    };

    it(
      'gives a message id to one claimant at a time, and a settled one to none',
      withState(async (state) => {
        const claims = await Promise.all(Array.from({ length: 20 }, () => state.claim(request('m1', T0))));
        assert.equal(claims.filter((c) => c.kind === 'go').length, 1);
        assert.equal(claims.filter((c) => c.kind === 'busy').length, 19);
        const go = claims.find((c) => c.kind === 'go')!;
        const { state: claimed, attempts, firstAttemptAt, version, step, template } = go.record;
        assert.deepEqual(
          { claimed, attempts, firstAttemptAt, version, step, template },
          {
            claimed: 'sending',
            attempts: 1,
            firstAttemptAt: T0,
            version: 2,
            step: 'reminder',
            template: 'cart_sms',
          },
        );
        await state.settle({ ...go.record, state: 'done', status: 'sent', providerId: 'biz-1' }, ['biz-1']);
        const again = await state.claim(request('m1', T0 + 60_000));
        assert.equal(again.kind, 'done');
        assert.equal(again.record.providerId, 'biz-1');
        assert.equal(await state.lookup('biz-1'), 'm1');
      }),
    );

    it(
      'hands a retry back out, and turns a claim whose holder died into an unknown outcome',
      withState(async (state) => {
        const first = await state.claim(request('m2', T0));
        await state.settle({ ...first.record, state: 'retry' });
        const second = await state.claim(request('m2', T0 + 5_000));
        assert.equal(second.kind, 'go');
        assert.equal(second.record.attempts, 2);
        assert.equal(second.record.firstAttemptAt, T0);
        assert.equal((await state.claim(request('m2', T0 + 20_000))).kind, 'busy');
        const late = await state.claim(request('m2', T0 + 40_000));
        assert.equal(late.kind, 'unknown');
        assert.equal((await state.record('m2'))?.state, 'unknown');
        assert.equal((await state.claim(request('m2', T0 + 50_000))).kind, 'unknown');
      }),
    );

    it(
      'updates a record in place and ignores unknown ids',
      withState(async (state) => {
        const claim = await state.claim(request('m3', T0));
        await state.settle({ ...claim.record, state: 'done', status: 'sent' });
        const updated = await state.update('m3', { deliveredAt: T0 + 1000, deliveryCode: 'DELIVERED' });
        assert.equal(updated?.deliveredAt, T0 + 1000);
        assert.equal(updated?.status, 'sent');
        assert.equal(await state.update('nope', { clickedAt: T0 }), null);
      }),
    );

    it(
      'keeps a suppression list per channel',
      withState(async (state) => {
        await state.suppress('sms', '13800000001', { reason: 'reply:TD', at: T0 });
        assert.deepEqual(await state.suppressed('sms', '13800000001'), { reason: 'reply:TD', at: T0 });
        assert.equal(await state.suppressed('email', '13800000001'), null);
        await state.unsuppress('sms', '13800000001');
        assert.equal(await state.suppressed('sms', '13800000001'), null);
      }),
    );

    it(
      'reserves 100 concurrent sends under a cap of 3 exactly 3 times, counting a retried message once',
      withState(async (state) => {
        const windows = [
          { key: 'u:ann:sms:1d', windowMs: 86_400_000, limit: 3 },
          { key: 'u:ann:any:1h', windowMs: 3_600_000, limit: 50 },
        ];
        const answers = await Promise.all(
          Array.from({ length: 100 }, (_, i) => state.reserve(`m${i}`, windows, T0 + i)),
        );
        assert.equal(answers.filter((a) => a.ok).length, 3);
        assert.deepEqual(
          answers.find((a) => !a.ok),
          { ok: false, full: 'u:ann:sms:1d' },
        );
        const holder = answers.findIndex((a) => a.ok);
        assert.deepEqual(await state.reserve(`m${holder}`, windows, T0 + 500), { ok: true });
        await state.release(
          `m${holder}`,
          windows.map((w) => w.key),
        );
        assert.deepEqual(await state.reserve('late', windows, T0 + 600), { ok: true });
        assert.equal((await state.reserve('later', windows, T0 + 700)).ok, false);
        // A day later the window has room again.
        assert.equal((await state.reserve('tomorrow', windows, T0 + 86_400_001)).ok, true);
      }),
    );

    it(
      "reserves a profile's windows and a device's window in one step when the send names its profile",
      withState(async (state) => {
        const windows = [
          { key: 'u:ann:push:P1D', windowMs: 86_400_000, limit: 5 },
          { key: 'u:ann:any:P7D', windowMs: 7 * 86_400_000, limit: 5 },
          { key: 'device:tok-1:P1D', windowMs: 86_400_000, limit: 2 },
        ];
        assert.deepEqual(await state.reserve('p1', windows, T0, 'u:ann'), { ok: true });
        assert.deepEqual(await state.reserve('p2', windows, T0 + 1, 'u:ann'), { ok: true });
        assert.deepEqual(await state.reserve('p3', windows, T0 + 2, 'u:ann'), {
          ok: false,
          full: 'device:tok-1:P1D',
        });
        await state.release(
          'p2',
          windows.map((w) => w.key),
          'u:ann',
        );
        assert.deepEqual(await state.reserve('p3', windows, T0 + 3, 'u:ann'), { ok: true });
      }),
    );

    it(
      'spends Mini Program credits one at a time and never below zero',
      withState(async (state) => {
        const key = 'wxapp:oAnn:TPL1';
        assert.equal(await state.takeCredit(key), false);
        await state.grantCredit(key, 'accept');
        await state.grantCredit(key, 'accept');
        const takes = await Promise.all(Array.from({ length: 10 }, () => state.takeCredit(key)));
        assert.equal(takes.filter(Boolean).length, 2);
        await state.returnCredit(key);
        assert.equal(await state.credits(key), 1);
        assert.equal(await state.grantCredit(key, 'reject'), 0);
        assert.equal(await state.takeCredit(key), false);
      }),
    );

    it(
      'sees an inbound key once within its time to live, unless it is forgotten',
      withState(async (state) => {
        const seen = await Promise.all(
          Array.from({ length: 5 }, () => state.firstSeen('wechat:123', 60_000)),
        );
        assert.deepEqual(seen.filter(Boolean).length, 1);
        // Work that failed after the mark: forgotten, so the provider's retry is taken.
        await state.forgetSeen(['wechat:123']);
        assert.equal(await state.firstSeen('wechat:123', 60_000), true);
        assert.equal(await state.firstSeen('wechat:123', 60_000), false);
      }),
    );

    it(
      'spaces a provider’s calls at its rate after a short burst',
      withState(async (state) => {
        const waits: number[] = [];
        for (let i = 0; i < 30; i++) waits.push(await state.rateSlot('aliyun', 100, T0));
        // 100/s: 10 ms apart; the first 100 ms worth go at once.
        assert.deepEqual(waits.slice(0, 10), Array(10).fill(0));
        assert.equal(waits[10], 10);
        assert.equal(waits[29], 200);
      }),
    );

    it(
      'raises an alert once per journey and channel until it is resolved',
      withState(async (state) => {
        const alert = {
          id: 'cart:sms',
          journeyId: 'cart',
          channel: 'sms',
          provider: 'aliyun-sms',
          code: 'isv.AMOUNT_NOT_ENOUGH',
          detail: 'balance',
          at: T0,
        };
        await state.raiseAlert(alert);
        await state.raiseAlert({ ...alert, at: T0 + 1 });
        assert.deepEqual(await state.alerts(), [alert]);
        assert.equal(await state.resolveAlert('cart:sms'), true);
        assert.deepEqual(await state.alerts(), []);
      }),
    );

    it(
      "forgets a profile's message records, their index entries and cap windows; keeps suppressions and others",
      withState(async (state) => {
        const go = await state.claim(request('m-forget', T0));
        await state.settle({ ...go.record, state: 'done', status: 'sent', providerId: 'biz-9' }, [
          'aliyun-sms:biz-9:13800138000',
          'aliyun-sms:biz-9',
        ]);
        const cap = { key: 'u:ann:sms:P1D', windowMs: 86_400_000, limit: 1 };
        assert.deepEqual(await state.reserve('m-forget', [cap], T0), { ok: true });
        const other = await state.claim({ ...request('m-other', T0), profileKey: 'u:bob' });
        await state.settle({ ...other.record, state: 'done' }, ['aliyun-sms:biz-10:13800138001']);
        await state.suppress('sms', '13800138000', { reason: 'opt_out', at: T0 });

        assert.equal(await state.forgetProfile('u:ann'), 1);
        assert.equal(await state.record('m-forget'), null);
        assert.equal(await state.lookup('aliyun-sms:biz-9:13800138000'), null);
        assert.equal(await state.lookup('aliyun-sms:biz-9'), null);
        // The cap window is empty again: a new message fits.
        assert.deepEqual(await state.reserve('m-next', [cap], T0 + 1), { ok: true });
        assert.equal((await state.record('m-other'))?.profileKey, 'u:bob');
        assert.equal(await state.lookup('aliyun-sms:biz-10:13800138001'), 'm-other');
        assert.equal((await state.suppressed('sms', '13800138000'))?.reason, 'opt_out');
        assert.equal(await state.forgetProfile('u:ann'), 0);
      }),
    );
  });
}
