import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Profile } from '../../model/profile.ts';
import type { Store } from '../../ports/store.ts';
import { PROCESS_KEYS as KEYS, postBatch } from '../../dev/processes.ts';
import type { TestStream } from './stream.ts';

/**
 * Posts the messages in batches of `size`, `parallel` requests at a time; how many were acknowledged.
 * Every answer must be 200, unless `retry`: then a batch is posted again after a 503 (or a refused
 * connection), as the Segment SDKs do.
 */
export async function postAll(
  url: string,
  messages: Record<string, unknown>[],
  size = 100,
  parallel = 4,
  retry = false,
): Promise<number> {
  let acknowledged = 0;
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < messages.length; i += size) batches.push(messages.slice(i, i + size));
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        for (let attempt = 1; ; attempt++) {
          const status = await postBatch(url, KEYS.write, batch).catch(() => 0);
          if (retry && (status === 503 || status === 0) && attempt < 50) {
            await sleep(200);
            continue;
          }
          assert.equal(status, 200);
          break;
        }
        acknowledged += batch.length;
      }
    }),
  );
  return acknowledged;
}

/**
 * Every user's messages applied exactly once, and every anonymous id merged into its user. With the
 * store, a user whose count is off is explained: which of their messages the history lacks or holds
 * twice, and where a lacking one went (the anonymous profile's history, if it still has one).
 */
export async function assertExactlyOnce(
  profiles: Map<string, Omit<Profile, 'version' | 'checkAt'>>,
  stream: TestStream,
  store?: Store,
): Promise<void> {
  for (const [userId, count] of stream.perUser) {
    const p = profiles.get(`u:${userId}`);
    assert.ok(p, `profile of ${userId}`);
    if (p.eventCount === count || !store) {
      assert.equal(p.eventCount, count, `${userId} has every message applied exactly once`);
      continue;
    }
    assert.fail(
      `${userId} has ${p.eventCount} of ${count} messages applied: ${await explain(store, stream, userId)}`,
    );
  }
  for (const anonymousId of stream.anonymousIds)
    assert.ok(!profiles.has(`a:${anonymousId}`), `${anonymousId} was merged into its user`);
}

async function explain(store: Store, stream: TestStream, userId: string): Promise<string> {
  const anonymousIds = new Set(
    stream.messages.filter((m) => m.userId === userId && m.anonymousId).map((m) => String(m.anonymousId)),
  );
  const own = stream.messages.filter(
    (m) => m.userId === userId || (m.userId === undefined && anonymousIds.has(String(m.anonymousId))),
  );
  const stored = (await store.recentEvents(`u:${userId}`, 10_000)).filter((e) => e.type !== 'internal');
  const times = new Map<string, number>();
  for (const e of stored) times.set(String(e.messageId), (times.get(String(e.messageId)) ?? 0) + 1);
  const lines: string[] = [];
  for (const m of own) {
    const n = times.get(String(m.messageId)) ?? 0;
    if (n !== 1) lines.push(`${String(m.messageId)} (${String(m.type)}) stored ${n} times`);
  }
  for (const anonymousId of anonymousIds) {
    const left = await store.recentEvents(`a:${anonymousId}`, 10_000);
    if (left.length > 0)
      lines.push(
        `a:${anonymousId} still holds ${left.map((e) => String(e.messageId ?? e.event)).join(', ')}`,
      );
  }
  return lines.join('; ') || 'the history holds each message once';
}

/** The first users' histories hold each of their messages once. */
export async function assertStoredOnce(store: Store, stream: TestStream, users = 20): Promise<void> {
  for (const userId of stream.userIds.slice(0, users)) {
    const events = (await store.recentEvents(`u:${userId}`, 1000)).filter((e) => e.type !== 'internal');
    assert.equal(new Set(events.map((e) => e.messageId)).size, events.length, 'no event stored twice');
    assert.equal(events.length, stream.perUser.get(userId));
  }
}
