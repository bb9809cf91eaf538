/**
 * The contract between the dispatcher (channels/dispatcher.ts: address, template, policy, claim,
 * retries) and one provider adapter (one folder per provider). An adapter only speaks its
 * provider's wire format and classifies what comes back; it never retries on its own, except the
 * one credential refresh a REFRESH_TOKEN answer calls for (refresh once, then retry once).
 */

/** The outcome classes: what a provider's answer means for the engine (channels/README.md). */
export type OutcomeClass =
  /** Accepted by the provider (not yet delivered). */
  | 'OK'
  /** Transient: try the same request again with backoff. */
  | 'RETRY'
  /** A quota or rate window: try again after `retryAfterMs`, do not hammer. */
  | 'RETRY_LATER'
  /** Credentials expired or invalid even after one refresh (adapters refresh once themselves). */
  | 'REFRESH_TOKEN'
  /** Permanent for this recipient (bad number, unregistered token, unsubscribed): suppress the address. */
  | 'PERM_RECIPIENT'
  /** Permanent for this message (content, parameters): fail the send, keep the recipient. */
  | 'PERM_MESSAGE'
  /** Account, credential, signature, template or permission fault: fail, alert, pause the channel. */
  | 'PERM_CONFIG'
  /** The request may or may not have been executed (timeout after sending): reconcile first. */
  | 'UNKNOWN';

/** A provider's answer to one delivery, classified. */
export interface ProviderResult {
  class: OutcomeClass;
  /** The provider's id for the accepted message (Aliyun BizId, WeChat msgid, FCM name, apns-id). */
  providerId?: string;
  /** The provider's own code (`isv.MOBILE_NUMBER_ILLEGAL`, `43101`, `UNREGISTERED`, `550`). */
  code?: string;
  /** The provider's message, for the log (never contains the full address). */
  detail?: string;
  /** RETRY_LATER / RETRY: how long the provider asked us to wait (x-acs-retry-after, Retry-After). */
  retryAfterMs?: number;
  /** SMS: billed segments of the message as sent. */
  segments?: number;
}

/** The device a push goes to (profile.pushTokens). */
export interface PushAddress {
  token: string;
  platform: 'ios' | 'android';
  provider: 'fcm' | 'apns' | 'jpush';
}

/** A WeChat recipient: the openid under one app (Official Account or Mini Program). */
export interface WechatAddress {
  appId: string;
  openId: string;
}

export interface SmsMessage {
  signName: string;
  templateCode: string;
  /** Values of the provider template's variables (strings only: Aliyun rejects other types). */
  params: Record<string, string>;
  /** The text as the phone shows it (signature included), for segment counting and previews. */
  text?: string;
}

export interface EmailMessage {
  from: string;
  subject: string;
  html?: string;
  text?: string;
  /** The one-click unsubscribe URL (List-Unsubscribe + List-Unsubscribe-Post headers) for marketing mail. */
  unsubscribeUrl?: string;
  /** A mailto: unsubscribe address, added to List-Unsubscribe next to the URL. */
  unsubscribeMailto?: string;
}

export interface PushMessage {
  title: string;
  body: string;
  data: Record<string, string>;
  imageUrl?: string;
  deepLink?: string;
  /** Maps to vendor classification / FCM priority; marketing pushes are capped per device per day. */
  category: 'transactional' | 'marketing';
  /** Duplicates with the same key replace each other on the device. Defaults to the message id. */
  collapseKey?: string;
  ttlSeconds?: number;
}

/** An Official Account template message. */
export interface WechatTemplateMessage {
  templateId: string;
  url?: string;
  miniprogram?: { appid: string; pagepath: string };
  /** Keyword values, e.g. `{ thing2: "巧克力" }` (sent as `{ thing2: { value } }`). */
  data: Record<string, string>;
}

/** A Mini Program subscribe message. */
export interface MiniprogramMessage {
  templateId: string;
  page?: string;
  data: Record<string, string>;
  miniprogramState?: 'developer' | 'trial' | 'formal';
  lang?: 'zh_CN' | 'en_US' | 'zh_HK' | 'zh_TW';
}

/** One message to one address, rendered, policy-checked and claimed: the adapter only sends it. */
export interface Delivery<Address, Message> {
  /** The deterministic message id: Aliyun `OutId`, WeChat `client_msg_id`, collapse id, Message-ID. */
  messageId: string;
  address: Address;
  message: Message;
  /** When the first attempt of this message was made (reconciliation searches from there). */
  firstAttemptAt: number;
  /** Set by the dispatcher when the message went out in a batch: the batch's OutId. */
  batchId?: string;
}

export interface ChannelProvider<Address, Message> {
  /** The provider's name in the workspace config: `aliyun-sms`, `smtp`, `fcm`, `apns`, `jpush`, `wechat`. */
  readonly name: string;
  send(delivery: Delivery<Address, Message>): Promise<ProviderResult>;
  /** Many deliveries in one call where the provider allows it (Aliyun SendBatchSms); results index-aligned. */
  sendBatch?(deliveries: Delivery<Address, Message>[]): Promise<ProviderResult[]>;
  /**
   * After an UNKNOWN outcome: asks the provider whether the message was taken. Returns its result
   * when it was (OK, or a permanent failure), null when the provider has no trace of it (safe to send
   * again). Providers without a way to ask do not implement it, and the dispatcher never re-sends
   * after an UNKNOWN on them.
   */
  reconcile?(delivery: Delivery<Address, Message>): Promise<ProviderResult | null>;
  /** Closes pooled connections. */
  close?(): Promise<void>;
}
