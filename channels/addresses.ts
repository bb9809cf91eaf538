/**
 * Where a message goes on each channel, read from the profile when it leaves, and the canonical
 * form of an address (the suppression list's key).
 */
import type { Profile } from '../model/profile.ts';
import type { PushAddress, WechatAddress } from './provider.ts';

/** Mainland numbers lose their +86 / 0086 / 86 prefix (Aliyun's form); others keep digits and +. */
export function canonicalPhone(phone: string): string {
  const digits = phone.replace(/[\s()-]/g, '');
  const cn = /^(?:\+86|0086|86)?(1\d{10})$/.exec(digits);
  return cn ? cn[1] : digits;
}

export const canonicalEmail = (email: string): string => email.trim().toLowerCase();

export function phoneOf(profile: Readonly<Profile>): string | null {
  const phone = profile.traits.phone;
  return typeof phone === 'string' && phone.trim() !== '' ? canonicalPhone(phone) : null;
}

export function emailOf(profile: Readonly<Profile>): string | null {
  const email = profile.traits.email;
  return typeof email === 'string' && email.includes('@') ? canonicalEmail(email) : null;
}

/** The user's most recently seen device among the push providers configured. */
export function deviceOf(profile: Readonly<Profile>, providers: ReadonlySet<string>): PushAddress | null {
  let best: Profile['pushTokens'][number] | null = null;
  for (const t of profile.pushTokens) {
    if (providers.has(t.provider) && (!best || t.seenAt > best.seenAt)) best = t;
  }
  return best ? { token: best.token, platform: best.platform, provider: best.provider } : null;
}

export function openIdOf(profile: Readonly<Profile>, appId: string): WechatAddress | null {
  const identity = profile.wechat[appId];
  return identity ? { appId, openId: identity.openId } : null;
}

/** An address for logs: enough to tell two apart, not enough to contact anyone. */
export function maskAddress(address: string): string {
  const at = address.indexOf('@');
  if (at > 0) return `${address[0]}***${address.slice(at)}`;
  return address.length <= 4 ? '****' : `${address.slice(0, 3)}****${address.slice(-4)}`;
}
