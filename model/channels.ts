/** The channels a journey sends on: the providers' four, WeChat Mini Programs, and the sandbox. */
export const SEND_CHANNELS = ['sms', 'email', 'push', 'wechat', 'miniprogram', 'sandbox'] as const;
export type SendChannel = (typeof SEND_CHANNELS)[number];

/** The channels a user has an address and consent for (a Mini Program message uses WeChat's). */
export const CONTACT_CHANNELS = ['sms', 'email', 'push', 'wechat'] as const;
export type ContactChannel = (typeof CONTACT_CHANNELS)[number];

export interface QuietHours {
  /** `HH:MM`, user's timezone; the window may wrap midnight (`21:00` to `08:00`). */
  start: string;
  end: string;
  action: 'defer' | 'drop';
}
