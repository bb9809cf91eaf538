/** What a profile keeps to attribute its conversions, and the report counters a decision moves. */

/** Integer deltas by counter scope (a journey's day `j:<id>:<day>`, the workspace's `w:<day>`) and field. */
export type Counts = Record<string, Record<string, number>>;

/** Treatment, the journey's holdout, or the workspace's global control group. */
export type Group = 't' | 'h' | 'c';

export interface WindowMessage {
  id: string;
  step: string;
  channel: string;
  template: string;
  /** When it left (sent or recorded by the sandbox); null until then, and for messages never sent. */
  sentAt: number | null;
  /** When the journey decided to send it (its logical time): where its window starts until it leaves. */
  queuedAt?: number;
  /** Its outcome is recorded: sent, or skipped or failed for good (the window waits for it). */
  settled?: boolean;
}

/** A goal event inside a window (an order, for revenue). */
export interface WindowOrder {
  /** The order id (or the goal event's id when it has none). */
  id: string;
  /** The goal event's messageId. */
  event: string;
  at: number;
  /** Revenue in hundredths. */
  cents: number;
  /** The order's first event inside an enrollment window of its journey: only it adds the order and revenue. */
  journeyOwner: boolean;
  /** The first event of this order in any window of the user: only it adds to the last-touch view. */
  workspaceOwner: boolean;
}

export interface ConversionWindow {
  journeyId: string;
  version: number;
  enrollmentId: string;
  group: Group;
  enteredAt: number;
  /** The goal's window, ms. */
  within: number;
  messages: WindowMessage[];
  orders: WindowOrder[];
  /** What this window adds to the counters now (what a change is compared with). */
  counted: Counts;
}

/** An order already counted for a journey (`scope` = its id) or for the workspace's last touch (''). */
export interface CountedOrder {
  scope: string;
  id: string;
  at: number;
}
