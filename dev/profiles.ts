import type { StoredEvent } from '../model/events.ts';
import type { ProfileCommit, Store } from '../ports/store.ts';
import type { Profile } from '../model/profile.ts';

const DAY = 86_400_000;

/** A realistic known-user profile: 10 traits (email, phone, city, birthday...), 5 tags, consent, lifecycle. */
export function makeProfile(key: string, overrides: Partial<Profile> = {}): Profile {
  const at = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  const userId = key.startsWith('u:') ? key.slice(2) : null;
  const traits = {
    email: `${userId ?? 'visitor'}@example.com`,
    phone: '+8613800138000',
    city: 'Shanghai',
    birthday: '1990-04-12',
    firstName: 'Mei',
    lastName: 'Chen',
    plan: 'pro',
    language: 'zh-CN',
    ltv: 1280.5,
    orders: 7,
  };
  return {
    key,
    version: 1,
    userId,
    anonymousIds: [`anon-${key.slice(2)}`],
    traits,
    traitTimes: Object.fromEntries(Object.keys(traits).map((name, i) => [name, at - i * DAY])),
    tags: ['vip', 'newsletter', 'mobile', 'repeat-buyer', 'cn'],
    segments: ['active-30d', 'high-value'],
    lifecycle: { state: 'active', since: at - 40 * DAY },
    pushTokens: [],
    wechat: {},
    consent: { email: { granted: true, at: at - 90 * DAY }, sms: { granted: true, at: at - 90 * DAY } },
    timezone: 'Asia/Shanghai',
    timezoneAt: at - 90 * DAY,
    bucket: 4821,
    createdAt: at - 120 * DAY,
    lastSeenAt: at,
    eventCount: 57,
    ...overrides,
  };
}

/** The commit that stores `profile` as it is, from `expectedVersion`, with `events` applied. */
export function updateCommit(
  profile: Profile,
  expectedVersion: number,
  events: StoredEvent[] = [],
): ProfileCommit {
  return { key: profile.key, expectedVersion, profile, events, messageIds: events.map((e) => e.messageId) };
}

/** The commit that creates `profile`. */
export const createCommit = (profile: Profile, events: StoredEvent[] = []): ProfileCommit =>
  updateCommit(profile, 0, events);

/** Writes `n` realistic profiles (`u:user-<i>`, see makeProfile) in commits of 1,000: what the memory benches size. */
export async function loadProfiles(store: Pick<Store, 'commit'>, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const commits: ProfileCommit[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++)
      commits.push(createCommit(makeProfile(`u:user-${j}`, { version: 1 })));
    await store.commit(commits);
  }
}
