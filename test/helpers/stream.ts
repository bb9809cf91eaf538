import { prng } from '../../dev/random.ts';
/** A deterministic, heavily interleaved stream for concurrency tests: many calls per user, shuffled. */

export interface TestStream {
  messages: Record<string, unknown>[];
  userIds: string[];
  anonymousIds: string[];
  /** Messages per user id (after anonymous ids are linked). */
  perUser: Map<string, number>;
}

export function interleavedStream(users: number, perUser: number, seed = 7): TestStream {
  const random = prng(seed);
  const start = Date.parse('2026-11-01T00:00:00Z');
  const cities = ['Shanghai', 'Beijing', 'Shenzhen', 'Hangzhou', null];
  const messages: Record<string, unknown>[] = [];
  const counts = new Map<string, number>();
  const userIds: string[] = [];
  const anonymousIds: string[] = [];
  for (let u = 0; u < users; u++) {
    const userId = `cu-${u}`;
    const anonymousId = `ca-${u}`;
    userIds.push(userId);
    anonymousIds.push(anonymousId);
    counts.set(userId, perUser);
    for (let i = 0; i < perUser; i++) {
      // Coarse timestamps so that ties at the same millisecond happen.
      const timestamp = new Date(start + Math.floor(random() * 500) * 1000).toISOString();
      const messageId = `cm-${u}-${i}`;
      const kind = i === 0 ? 'link' : random() < 0.3 ? 'identify' : random() < 0.2 ? 'anonymous' : 'track';
      if (kind === 'link') {
        messages.push({
          type: 'identify',
          userId,
          anonymousId,
          messageId,
          timestamp,
          traits: { signup: 'web' },
        });
      } else if (kind === 'identify') {
        messages.push({
          type: 'identify',
          userId,
          messageId,
          timestamp,
          traits: { city: cities[Math.floor(random() * cities.length)], score: Math.floor(random() * 100) },
          context: { device: { type: random() < 0.5 ? 'ios' : 'android', token: `tok-${u}-${i % 3}` } },
        });
      } else if (kind === 'anonymous') {
        messages.push({ type: 'page', anonymousId, messageId, timestamp, name: 'home' });
      } else {
        messages.push({
          type: 'track',
          userId,
          messageId,
          timestamp,
          event: 'product_viewed',
          properties: { n: i },
        });
      }
    }
  }
  for (let i = messages.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [messages[i], messages[j]] = [messages[j], messages[i]];
  }
  return { messages, userIds, anonymousIds, perUser: counts };
}
