import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryStore } from '../../engine/adapters/stores/memory.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import {
  checkJobId,
  checkJobs,
  PROFILE_CHECK_BATCH_JOB,
  PROFILE_CHECK_JOB,
  runProfileChecks,
} from '../../engine/jobs/checks.ts';
import { DUE_TIMER_DELAY_MS } from '../../engine/commit/commit-loop.ts';
import type { Profile } from '../../model/profile.ts';
import { Workspace } from '../../workspace/workspace.ts';
import { createCommit, makeProfile, updateCommit } from '../../dev/profiles.ts';

const NOW = Date.parse('2026-03-02T02:00:00Z');
const redis = { coalesce: true, minDelayMs: DUE_TIMER_DELAY_MS };

it('queues the timers already due as one job, and each future timer as its own', () => {
  const checks = [
    { key: 'u:a', at: NOW - 10 },
    { key: 'u:b', at: NOW },
    { key: 'u:c', at: NOW + 60_000 },
    { key: 'u:d', at: NOW - 5 },
  ];
  const jobs = checkJobs(checks, NOW, redis);
  assert.deepEqual(
    jobs.map((j) => [j.name, j.options?.delay]),
    [
      [PROFILE_CHECK_JOB, 60_000],
      [PROFILE_CHECK_BATCH_JOB, DUE_TIMER_DELAY_MS],
    ],
  );
  assert.deepEqual(jobs[1].data, { checks: [checks[0], checks[1], checks[3]] });
  // The same timers give the same batch id (a retried ingest job queues nothing twice).
  assert.equal(checkJobs(checks, NOW + 1, redis)[1].options?.id, jobs[1].options?.id);
  assert.notEqual(checkJobs(checks.slice(0, 2), NOW, redis)[0].options?.id, jobs[1].options?.id);
});

it('keeps one job per timer when only one is due, or in process', () => {
  const due = [{ key: 'u:a', at: NOW - 10 }];
  assert.deepEqual(
    checkJobs(due, NOW, redis).map((j) => [j.name, j.options?.id, j.options?.delay]),
    [[PROFILE_CHECK_JOB, checkJobId(due[0]), DUE_TIMER_DELAY_MS]],
  );
  // The id names the time and a digest of the key, not the user.
  assert.match(checkJobId(due[0]), new RegExp(`^c\\.${(NOW - 10).toString(36)}\\.[\\w-]{16}$`));
  assert.equal(checkJobId(due[0]), checkJobId({ key: 'u:a', at: NOW - 10 }));
  assert.notEqual(checkJobId(due[0]), checkJobId({ key: 'u:b', at: NOW - 10 }));
  assert.ok(!checkJobId(due[0]).includes('u:a'));
  const inProcess = checkJobs([...due, { key: 'u:b', at: NOW }, { key: 'u:c', at: NOW + 5 }], NOW, {
    coalesce: false,
    minDelayMs: 0,
  });
  assert.deepEqual(
    inProcess.map((j) => [j.name, j.options?.delay]),
    [
      [PROFILE_CHECK_JOB, DUE_TIMER_DELAY_MS],
      [PROFILE_CHECK_JOB, DUE_TIMER_DELAY_MS],
      [PROFILE_CHECK_JOB, 5],
    ],
  );
});

it('runs a batch of due timers with one read and one write, a conflicting user alone, each message handed over once', async () => {
  const store = new MemoryStore({ eventRetentionMs: 3650 * 86_400_000, dedupeHorizonMs: 86_400_000 });
  await store.init();
  const keys = ['u:a', 'u:b', 'u:c'];
  const outboxed = (key: string): Profile =>
    makeProfile(key, {
      checkAt: NOW,
      outbox: [
        {
          messageId: `m-${key}`,
          journeyId: 'j',
          enrollmentId: `j:${key}`,
          version: 1,
          step: 's',
          channel: 'sandbox',
          template: 't',
          trigger: { messageId: 't', at: NOW },
          requestedAt: NOW,
          attempts: 0,
          dueAt: NOW,
        },
      ],
    });
  await store.commit(keys.map((k) => createCommit(outboxed(k))));
  const handed: string[] = [];
  const gateway: ChannelGateway = {
    async send({ message, profile }) {
      handed.push(message.messageId);
      // Another writer commits to u:b while its message is out: its batch commit will conflict.
      if (profile.key === 'u:b') {
        const current = (await store.getProfiles(['u:b'])).get('u:b')!;
        await store.commit([
          updateCommit({ ...current, version: current.version + 1, tags: ['touched'] }, current.version),
        ]);
      }
      return { status: 'sandbox' };
    },
  };
  const reads: string[][] = [];
  const counting = Object.create(store) as MemoryStore;
  counting.getProfiles = (k: readonly string[]) => {
    reads.push([...k]);
    return store.getProfiles(k);
  };
  await runProfileChecks(
    counting,
    keys.map((key) => ({ key, at: NOW })),
    {
      workspace: new Workspace(),
      now: () => NOW + 300,
      lateGraceMs: 86_400_000,
      scheduleChecks: async () => {},
      gateway,
    },
  );
  assert.deepEqual(handed.sort(), ['m-u:a', 'm-u:b', 'm-u:c']);
  assert.deepEqual(reads, [keys, ['u:b']], 'one read for the batch, then the conflicting user alone');
  const after = await store.getProfiles(keys);
  for (const key of keys) {
    assert.equal(after.get(key)?.outbox, undefined, key);
    const statuses = (await store.recentEvents(key, 10)).filter((e) => e.event === 'message_status');
    assert.deepEqual(
      statuses.map((e) => e.properties?.status),
      ['sandbox'],
      key,
    );
  }
  assert.deepEqual(after.get('u:b')?.tags, ['touched'], "the other writer's change is kept");
});
