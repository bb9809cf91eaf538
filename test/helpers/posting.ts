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

/** Every user's messages applied exactly once, and every anonymous id merged into its user. */
export function assertExactlyOnce(
  profiles: Map<string, Omit<Profile, 'version' | 'checkAt'>>,
  stream: TestStream,
): void {
  for (const [userId, count] of stream.perUser) {
    const p = profiles.get(`u:${userId}`);
    assert.ok(p, `profile of ${userId}`);
    assert.equal(p.eventCount, count, `${userId} has every message applied exactly once`);
  }
  for (const anonymousId of stream.anonymousIds)
    assert.ok(!profiles.has(`a:${anonymousId}`), `${anonymousId} was merged into its user`);
}

/** The first users' histories hold each of their messages once. */
export async function assertStoredOnce(store: Store, stream: TestStream, users = 20): Promise<void> {
  for (const userId of stream.userIds.slice(0, users)) {
    const events = (await store.recentEvents(`u:${userId}`, 1000)).filter((e) => e.type !== 'internal');
    assert.equal(new Set(events.map((e) => e.messageId)).size, events.length, 'no event stored twice');
    assert.equal(events.length, stream.perUser.get(userId));
  }
}
