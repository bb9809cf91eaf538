import { createHash } from 'node:crypto';
import type { InboundMessage, StoredEvent } from '../model/events.ts';
import { isJsonObject, type Json, type JsonObject } from '../model/json.ts';
import {
  type GroupMembership,
  type Profile,
  type PushPlatform,
  type PushProvider,
  type PushToken,
} from '../model/profile.ts';
import { CONTACT_CHANNELS, type ContactChannel } from '../model/channels.ts';

/** Traits that feed dedicated profile fields instead of being kept as plain traits. */
const STRUCTURED_TRAITS = new Set(['consent', 'wechat']);
const MAX_PUSH_TOKENS = 10;

export interface ApplyOptions {
  /** An event whose timestamp is older than its arrival by more than this is flagged late. */
  lateGraceMs: number;
}

/** 0-9999, a stable hash of the profile key: uniform like a random draw, but reproducible in replays. */
export function bucketFor(key: string): number {
  return createHash('sha1').update(`bucket:${key}`).digest().readUInt32BE(0) % 10_000;
}

export function newProfile(key: string, userId: string | null): Profile {
  return {
    key,
    version: 0,
    userId,
    anonymousIds: [],
    traits: {},
    traitTimes: {},
    tags: [],
    segments: [],
    lifecycle: null,
    pushTokens: [],
    wechat: {},
    consent: {},
    timezone: null,
    timezoneAt: 0,
    bucket: bucketFor(key),
    createdAt: Number.POSITIVE_INFINITY,
    lastSeenAt: 0,
    eventCount: 0,
  };
}

/**
 * Applies one message to a profile in place and returns the event to store.
 * Every change is last-write-wins by event time (ties broken by value), so the result does not
 * depend on the order messages are applied in.
 */
export function applyMessage(profile: Profile, message: InboundMessage, options: ApplyOptions): StoredEvent {
  const at = message.timestamp;
  profile.createdAt = Math.min(profile.createdAt, at);
  profile.lastSeenAt = Math.max(profile.lastSeenAt, at);
  profile.eventCount += 1;
  if (message.userId && !profile.userId && profile.key === `u:${message.userId}`)
    profile.userId = message.userId;
  if (message.anonymousId) addAnonymousId(profile, message.anonymousId);
  if (message.type === 'alias' && message.previousId) addAnonymousId(profile, message.previousId);

  if (message.type === 'group') {
    if (message.groupId !== undefined) applyGroup(profile, message.groupId, message.traits ?? {}, at);
  } else if (message.traits) applyTraits(profile, message.traits, at);
  const context = message.context;
  if (context) {
    if (typeof context.timezone === 'string') setTimezone(profile, context.timezone, at);
    if (isJsonObject(context.wechat)) applyWechat(profile, context.wechat, at);
    if (isJsonObject(context.device)) applyDevice(profile, context.device, at);
  }
  return toStoredEvent(message, options);
}

export function toStoredEvent(message: InboundMessage, options: ApplyOptions): StoredEvent {
  const stored: StoredEvent = {
    messageId: message.messageId,
    type: message.type,
    event: message.type === 'track' ? (message.event as string) : message.type,
    timestamp: message.timestamp,
    receivedAt: message.receivedAt,
  };
  if (message.name !== undefined) stored.name = message.name;
  if (message.groupId !== undefined) stored.groupId = message.groupId;
  if (message.originalTimestamp !== undefined) stored.originalTimestamp = message.originalTimestamp;
  if (message.properties) stored.properties = message.properties;
  if (message.traits) stored.traits = message.traits;
  if (message.context) stored.context = message.context;
  // Who the call came from, where the profile's key does not say it once visitors are folded into
  // users: an anonymous call, or an identify that linked a visitor.
  if (message.anonymousId !== undefined && (message.userId === undefined || message.type === 'identify'))
    stored.anonymousId = message.anonymousId;
  if (message.receivedAt - message.timestamp > options.lateGraceMs) stored.late = true;
  return stored;
}

/**
 * Folds an absorbed profile (an anonymous visitor who has now identified) into `into`.
 * Commutative with applyMessage: the merged profile is what applying both histories would give.
 */
export function mergeProfile(into: Profile, absorbed: Profile): void {
  into.createdAt = Math.min(into.createdAt, absorbed.createdAt);
  into.lastSeenAt = Math.max(into.lastSeenAt, absorbed.lastSeenAt);
  into.eventCount += absorbed.eventCount;
  for (const id of absorbed.anonymousIds) addAnonymousId(into, id);
  if (absorbed.key.startsWith('a:')) addAnonymousId(into, absorbed.key.slice(2));
  for (const [name, at] of Object.entries(absorbed.traitTimes)) {
    setTrait(into, name, name in absorbed.traits ? absorbed.traits[name] : null, at);
  }
  for (const [groupId, group] of Object.entries(absorbed.groups ?? {})) mergeGroup(into, groupId, group);
  for (const tag of absorbed.tags) if (!into.tags.includes(tag)) into.tags.push(tag);
  for (const token of absorbed.pushTokens) upsertPushToken(into, token);
  for (const [appId, identity] of Object.entries(absorbed.wechat)) {
    const current = into.wechat[appId];
    if (!current || wins(identity.at, identity.openId, current.at, current.openId))
      into.wechat[appId] = identity;
  }
  for (const channel of CONTACT_CHANNELS) {
    const consent = absorbed.consent[channel];
    if (consent) setConsent(into, channel, consent.granted, consent.at);
  }
  if (absorbed.timezone !== null || absorbed.timezoneAt > 0) {
    setTimezone(into, absorbed.timezone, absorbed.timezoneAt);
  }
}

function addAnonymousId(profile: Profile, id: string): void {
  if (profile.key !== `a:${id}` && !profile.anonymousIds.includes(id)) {
    profile.anonymousIds.push(id);
    profile.anonymousIds.sort();
  }
}

function applyTraits(profile: Profile, traits: JsonObject, at: number): void {
  for (const [name, value] of Object.entries(traits)) {
    if (name === 'consent' && isJsonObject(value)) {
      for (const channel of CONTACT_CHANNELS) {
        const granted = value[channel];
        if (typeof granted === 'boolean') setConsent(profile, channel, granted, at);
      }
    } else if (name === 'wechat' && isJsonObject(value)) {
      applyWechat(profile, value, at);
    } else if (!STRUCTURED_TRAITS.has(name)) {
      setTrait(profile, name, value, at);
      if (name === 'timezone' && (typeof value === 'string' || value === null))
        setTimezone(profile, value, at);
    }
  }
}

/** A `group` call's traits describe the group, not the user: they are kept under the group's id. */
function applyGroup(profile: Profile, groupId: string, traits: JsonObject, at: number): void {
  const traitTimes: Record<string, number> = {};
  for (const name of Object.keys(traits)) traitTimes[name] = at;
  mergeGroup(profile, groupId, { traits, traitTimes, at });
}

function mergeGroup(profile: Profile, groupId: string, source: GroupMembership): void {
  profile.groups ??= {};
  const group = (profile.groups[groupId] ??= { traits: {}, traitTimes: {}, at: source.at });
  group.at = Math.max(group.at, source.at);
  for (const [name, at] of Object.entries(source.traitTimes)) {
    const value = name in source.traits ? source.traits[name] : null;
    const currentAt = group.traitTimes[name];
    if (currentAt !== undefined && !wins(at, value, currentAt, group.traits[name])) continue;
    group.traitTimes[name] = at;
    if (value === null) delete group.traits[name];
    else group.traits[name] = value;
  }
}

/** True when a write (at, value) beats the current one (currentAt, current). */
function wins(at: number, value: Json | undefined, currentAt: number, current: Json | undefined): boolean {
  if (at !== currentAt) return at > currentAt;
  return JSON.stringify(value ?? null) > JSON.stringify(current ?? null);
}

/** Sets a trait if (at, value) beats the current write (last write wins by event time). */
export function setTrait(profile: Profile, name: string, value: Json, at: number): void {
  const currentAt = profile.traitTimes[name];
  if (currentAt !== undefined && !wins(at, value, currentAt, profile.traits[name])) return;
  profile.traitTimes[name] = at;
  if (value === null) delete profile.traits[name];
  else profile.traits[name] = value;
}

function setTimezone(profile: Profile, timezone: string | null, at: number): void {
  if (profile.timezoneAt && !wins(at, timezone, profile.timezoneAt, profile.timezone)) return;
  profile.timezone = timezone;
  profile.timezoneAt = at;
}

function setConsent(profile: Profile, channel: ContactChannel, granted: boolean, at: number): void {
  const current = profile.consent[channel];
  if (current && !wins(at, granted, current.at, current.granted)) return;
  profile.consent[channel] = { granted, at };
}

function applyWechat(profile: Profile, wechat: JsonObject, at: number): void {
  const { appId, openId, unionId } = wechat;
  if (typeof appId !== 'string' || typeof openId !== 'string') return;
  const current = profile.wechat[appId];
  if (current && !wins(at, openId, current.at, current.openId)) return;
  profile.wechat[appId] = typeof unionId === 'string' ? { openId, unionId, at } : { openId, at };
}

function applyDevice(profile: Profile, device: JsonObject, at: number): void {
  const { token, type, provider } = device;
  if (typeof token !== 'string' || (type !== 'ios' && type !== 'android')) return;
  const platform: PushPlatform = type;
  const chosen: PushProvider =
    provider === 'fcm' || provider === 'apns' || provider === 'jpush'
      ? provider
      : platform === 'ios'
        ? 'apns'
        : 'fcm';
  upsertPushToken(profile, { token, platform, provider: chosen, seenAt: at });
}

function upsertPushToken(profile: Profile, token: PushToken): void {
  const existing = profile.pushTokens.find((t) => t.token === token.token);
  if (existing) {
    if (wins(token.seenAt, token.provider, existing.seenAt, existing.provider))
      Object.assign(existing, token);
  } else {
    profile.pushTokens.push({ ...token });
  }
  profile.pushTokens.sort((a, b) => b.seenAt - a.seenAt || (a.token < b.token ? -1 : 1));
  if (profile.pushTokens.length > MAX_PUSH_TOKENS) profile.pushTokens.length = MAX_PUSH_TOKENS;
}
