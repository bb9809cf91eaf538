/** Tideline tracker for WeChat Mini Programs (see README.md). */
export interface TrackerOptions {
  /** The Tideline write key. */
  writeKey: string;
  /** Where Tideline listens, e.g. https://events.example.com (a request domain of the mini program). */
  apiHost: string;
  /** The mini program's app id: the user's openid is kept under it. */
  appId?: string;
  /** Send when this many calls wait (default 20). */
  flushAt?: number;
  /** Milliseconds a call may wait before it is sent (default 10000). */
  flushInterval?: number;
  /** Longest wait between retries, ms (default 60000). */
  maxRetryDelay?: number;
}

export interface WechatIdentity {
  openId: string;
  unionId?: string;
}

type Props = Record<string, unknown>;

export class Tracker {
  constructor(options: TrackerOptions);
  readonly anonymousId: string;
  readonly userId: string | null;
  /** Calls waiting to be sent (also kept in wx storage). */
  readonly queue: Props[];
  /** Answers the messageId. */
  identify(userId?: string | null, traits?: Props, wechat?: WechatIdentity): string;
  track(event: string, properties?: Props): string;
  page(route: string, properties?: Props): string;
  reset(): void;
  /** Page options whose onShow sends a page view (route and query). */
  trackPage<T extends object>(pageOptions: T): T;
  /** Wraps the global Page (or `host.Page`) so that every page sends its page views. */
  autoTrackPages(host?: { Page?: (options: object) => unknown }): void;
  /** Sends what is queued; resolves when sent or a retry is scheduled. */
  flush(): Promise<void>;
}

export const VERSION: string;
