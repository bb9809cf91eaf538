import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';

const iso = (ms: number): string | null =>
  Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;

/** A profile as the API shows it: addresses and consent per channel, times as ISO 8601. */
export function profileView(p: Profile) {
  const email = typeof p.traits.email === 'string' ? p.traits.email : null;
  const phone = typeof p.traits.phone === 'string' ? p.traits.phone : null;
  const consent = (channel: 'sms' | 'email' | 'push' | 'wechat') => {
    const c = p.consent[channel];
    return c ? { granted: c.granted, at: iso(c.at) } : null;
  };
  return {
    userId: p.userId,
    anonymousIds: p.anonymousIds,
    traits: p.traits,
    tags: p.tags,
    segments: p.segments,
    lifecycle: p.lifecycle ? { state: p.lifecycle.state, since: iso(p.lifecycle.since) } : null,
    channels: {
      email: { address: email, consent: consent('email') },
      sms: { address: phone, consent: consent('sms') },
      push: {
        tokens: p.pushTokens.map((t) => ({
          token: t.token,
          platform: t.platform,
          provider: t.provider,
          seenAt: iso(t.seenAt),
        })),
        consent: consent('push'),
      },
      wechat: {
        apps: Object.fromEntries(
          Object.entries(p.wechat).map(([appId, w]) => [
            appId,
            { openId: w.openId, unionId: w.unionId ?? null, at: iso(w.at) },
          ]),
        ),
        consent: consent('wechat'),
      },
    },
    groups: Object.fromEntries(
      Object.entries(p.groups ?? {}).map(([groupId, g]) => [groupId, { traits: g.traits, at: iso(g.at) }]),
    ),
    timezone: p.timezone,
    bucket: p.bucket,
    createdAt: iso(p.createdAt),
    lastSeenAt: iso(p.lastSeenAt),
    eventCount: p.eventCount,
  };
}

export function eventView(e: StoredEvent) {
  const view = { ...e, timestamp: iso(e.timestamp), receivedAt: iso(e.receivedAt) };
  return e.originalTimestamp === undefined ? view : { ...view, originalTimestamp: iso(e.originalTimestamp) };
}
