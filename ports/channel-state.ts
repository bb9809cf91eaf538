/**
 * What the channels keep outside profiles, shared by every worker and API process: send claims and
 * message records, the suppression list, frequency-cap reservations, Mini Program subscription
 * credits, inbound dedupe marks, provider rate windows and channel alerts. Each operation that must
 * not race is one atomic step (a Lua script on Redis), so concurrent workers never send a message
 * twice, never exceed a cap and never spend a credit twice.
 */

/** Where a message stands with its provider (the record a claim creates). */
export interface MessageRecord extends MessagePlace {
  messageId: string;
  /** `sending`: a worker holds the claim and may be calling the provider right now. */
  state: 'sending' | 'retry' | 'unknown' | 'done';
  /** When the current claim was taken (a `sending` claim older than the lease is a worker that died). */
  claimedAt: number;
  /** When the first attempt was made. */
  firstAttemptAt: number;
  attempts: number;
  profileKey: string;
  journeyId: string;
  channel: string;
  provider?: string;
  /** Set when the message went out in a provider batch (the batch's id at the provider). */
  batchId?: string;
  /** What the provider said last (class, code, id), once done; `sandbox`: recorded, no provider. */
  status?: 'sent' | 'sandbox' | 'failed' | 'skipped' | 'unknown';
  providerId?: string;
  code?: string;
  reason?: string;
  segments?: number;
  deliveredAt?: number;
  deliveryCode?: string;
  clickedAt?: number;
  /** Frequency-cap reservations held for this message (released if it is not sent). */
  caps?: string[];
}

export type Claim =
  /** Send it: nobody holds it (a new message, or one a provider refused with a retry). */
  | { kind: 'go'; record: MessageRecord }
  /** Another worker holds the claim right now: try again later. */
  | { kind: 'busy'; record: MessageRecord }
  /** Already settled: answer what was recorded. */
  | { kind: 'done'; record: MessageRecord }
  /** A previous call may have reached the provider: reconcile before anything else. */
  | { kind: 'unknown'; record: MessageRecord };

/** Where in a journey a message was decided (carried into its receipts and clicks, for the reports). */
export interface MessagePlace {
  version?: number;
  step?: string;
  template?: string;
}

export interface ClaimRequest extends MessagePlace {
  messageId: string;
  profileKey: string;
  journeyId: string;
  channel: string;
  now: number;
  /** How long a `sending` claim stays another worker's before it counts as a crashed call. */
  leaseMs: number;
}

/** One rolling-window counter a send must fit into (`cap:<user>:sms:1d` ...). */
export interface CapWindow {
  key: string;
  windowMs: number;
  limit: number;
}

export interface Suppression {
  reason: string;
  at: number;
}

export interface ChannelAlert {
  /** `<journeyId>:<channel>`: the journey's sends on that channel are paused until it is resolved. */
  id: string;
  journeyId: string;
  channel: string;
  provider: string;
  code: string;
  detail: string;
  at: number;
}

export interface ChannelState {
  /** Takes (or re-takes) the claim on a message id; atomic. */
  claim(request: ClaimRequest): Promise<Claim>;
  /** Writes the record (the claim holder's outcome); `index`: provider keys to find it by (receipts). */
  settle(record: MessageRecord, index?: string[]): Promise<void>;
  record(messageId: string): Promise<MessageRecord | null>;
  /** The message id filed under a provider key by `settle`. */
  lookup(indexKey: string): Promise<string | null>;
  /** Sets delivery or click facts on a record; answers the record, or null if unknown. */
  update(messageId: string, fields: Partial<MessageRecord>): Promise<MessageRecord | null>;

  suppress(channel: string, address: string, suppression: Suppression): Promise<void>;
  suppressed(channel: string, address: string): Promise<Suppression | null>;
  unsuppress(channel: string, address: string): Promise<void>;

  /**
   * Reserves the message in every window, or in none when one is full (answering that window's key).
   * A message already holding a reservation in a window keeps it (retries count once). `owner`: the
   * profile the send is for, which an adapter may keep its windows with (release names the same one).
   */
  reserve(
    messageId: string,
    windows: CapWindow[],
    now: number,
    owner?: string,
  ): Promise<{ ok: true } | { ok: false; full: string }>;
  release(messageId: string, keys: string[], owner?: string): Promise<void>;

  /** Adds one Mini Program send credit (accept), or clears them (reject). */
  grantCredit(key: string, status: 'accept' | 'reject'): Promise<number>;
  /** Takes one credit if there is one; false at zero. */
  takeCredit(key: string): Promise<boolean>;
  /** Gives back a credit taken for a send the provider did not take. */
  returnCredit(key: string): Promise<void>;
  credits(key: string): Promise<number>;

  /** True the first time a key is seen within `ttlMs` (inbound pushes that providers retry). */
  firstSeen(key: string, ttlMs: number): Promise<boolean>;
  /** Forgets keys seen for work that then failed, so that the provider's retry is taken. */
  forgetSeen(keys: string[]): Promise<void>;

  /**
   * A provider's rate window: takes a slot at `ratePerSecond`; answers how long to wait before the
   * call may go (0: now). Shared by every process using this state.
   */
  rateSlot(provider: string, ratePerSecond: number, now: number): Promise<number>;

  /**
   * Erasure: forgets the profile's message records, the provider index entries that find them (which
   * hold addresses) and its frequency-cap windows. Suppressions stay, under a digest of the address: an
   * opt-out is kept so that the address is not messaged again. Answers how many message records were
   * removed.
   */
  forgetProfile(profileKey: string): Promise<number>;

  raiseAlert(alert: ChannelAlert): Promise<void>;
  alerts(): Promise<ChannelAlert[]>;
  resolveAlert(id: string): Promise<boolean>;

  close(): Promise<void>;
}
