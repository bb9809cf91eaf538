import type { Json, JsonObject } from './json.ts';
import type { AggregateState, EventTimes } from './aggregates.ts';
import type { ContactChannel } from './channels.ts';
import type { ConversionWindow, CountedOrder } from './conversions.ts';
import type { JourneyMemories, OutboxMessage } from './journeys.ts';
import type { ActivityTimeline } from './lifecycle.ts';

export type PushPlatform = 'ios' | 'android';
export type PushProvider = 'fcm' | 'apns' | 'jpush';

export interface PushToken {
  token: string;
  platform: PushPlatform;
  provider: PushProvider;
  /** Event time the token was last reported. */
  seenAt: number;
}

export interface WechatIdentity {
  openId: string;
  unionId?: string;
  at: number;
}

/** A group (account, company, organisation) the user belongs to, from `group` calls. */
export interface GroupMembership {
  /** The group's traits, each last-write-wins by event time. */
  traits: JsonObject;
  traitTimes: Record<string, number>;
  /** Event time of the latest `group` call naming it. */
  at: number;
}

export interface Consent {
  granted: boolean;
  at: number;
}

/**
 * A user as the engine keeps them. Every field is a function of the set of applied events,
 * not of the order they arrived in (last write wins by event time), so any number of workers
 * produce the same profile from the same stream.
 */
export interface Profile {
  /** Store key: `u:<userId>` for known users, `a:<anonymousId>` for anonymous ones. */
  key: string;
  /** Compare-and-set version, bumped by every commit. */
  version: number;
  userId: string | null;
  anonymousIds: string[];
  /** Segment traits; reserved ones: `email`, `phone`, `timezone`, `birthday`, `consent`, `wechat`. */
  traits: JsonObject;
  /** Event time each trait was last set or removed, for last-write-wins merging. */
  traitTimes: Record<string, number>;
  tags: string[];
  segments: string[];
  lifecycle: { state: string; since: number } | null;
  pushTokens: PushToken[];
  /** WeChat openid per app id (Official Account or Mini Program). */
  wechat: Record<string, WechatIdentity>;
  consent: Partial<Record<ContactChannel, Consent>>;
  /** The groups `group` calls put the user in, by group id (absent until the first one). */
  groups?: Record<string, GroupMembership>;
  /** IANA timezone; null until a trait or `context.timezone` gives one. */
  timezone: string | null;
  timezoneAt: number;
  /** 0-9999, fixed when the profile is created; holdouts and global control groups use ranges of it. */
  bucket: number;
  /** Earliest event time seen. */
  createdAt: number;
  /** Latest event time seen. */
  lastSeenAt: number;
  eventCount: number;
  /** Materialised aggregates of published rules, by aggregateId (rules/aggregates.ts). */
  aggregates?: Record<string, AggregateState>;
  /** First and last time of the event names published rules read (rules/event-times.ts). */
  eventTimes?: EventTimes;
  /** The workspace materialisation the aggregates, event times and activity were kept for. */
  materialisedFor?: string;
  /** The user's activity summarised for the lifecycle (lifecycle/timeline.ts). */
  activity?: ActivityTimeline;
  /** When this user's re-check timer is due (segments that change with time alone); null: none set. */
  checkAt?: number | null;
  /**
   * The time the user's state was last decided as of (the decision time of their last decision):
   * events stamped earlier that arrive later are decided at this time (the time line never runs
   * backwards). Like `checkAt`, it says when the profile was processed, not what it holds.
   */
  decidedAt?: number;
  /** History up to this time was imported: what it implied was decided silently (no journey, no credit). */
  importedUntil?: number;
  /** Where the user is in each journey they have entered (journeys/enrollment.ts). */
  journeys?: JourneyMemories;
  /** Messages decided and not yet taken by the channel gateway (journeys/outbox.ts). */
  outbox?: OutboxMessage[];
  /** The conversion windows of the user's recent enrollments (conversions/attribution.ts). */
  conversions?: ConversionWindow[];
  /** Orders already counted, so a repeated order event adds no revenue (conversions/attribution.ts). */
  countedOrders?: CountedOrder[];
  /** Journey log entries written for this user so far (their `seq`). */
  journeyLogged?: number;
}

export function profileKeyForUser(userId: string): string {
  return `u:${userId}`;
}

export function profileKeyForAnonymous(anonymousId: string): string {
  return `a:${anonymousId}`;
}

export type { Json };
