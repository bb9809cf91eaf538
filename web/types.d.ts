/** The API answers the console reads (only the fields it uses). */
import type * as echarts from 'echarts';

declare global {
  interface Window {
    echarts: typeof echarts;
  }
}

export interface Range {
  from: string;
  to: string;
  tz: string;
}

export interface Funnel {
  sent: number;
  delivered: number;
  clicked: number;
  converted: number;
  revenue: number;
}

/** Counts of messages (per step, channel, variant). */
export type Messages = Funnel & { skipped: number; failed: number; messagesConverted: number };

/** A rate is null when its denominator is 0. */
export type Rate = number | null;

/** GET /v1/reports/journeys */
export interface JourneyList {
  range: Range;
  journeys: (Funnel & {
    id: string;
    name: string;
    state: string;
    entered: number;
    conversionRate: Rate;
    lastTouchRevenue: number;
    daily: { date: string; entered: number; converted: number; revenue: number }[];
  })[];
}

export interface Group {
  entered: number;
  converted: number;
  conversionRate: Rate;
  revenue: number;
}

export interface CurvePoint {
  day: number;
  converted: number;
  rate: Rate;
}

/** GET /v1/reports/journeys/:id */
export interface JourneyReport {
  journey: { id: string; name: string; versions: number[] };
  range: Range;
  /** The version the figures are limited to, null for all. */
  version: number | null;
  totals: Funnel & { entered: number; conversionRate: Rate; orders: number };
  treatment: Group;
  holdout: Group;
  uplift: { absolute: number; relative: number | null; ci95: [number, number] } | null;
  /** The workspace-wide last-touch view of the journey's orders. */
  lastTouch: { orders: number; revenue: number };
  daily: (Funnel & { date: string; entered: number })[];
  cohorts: {
    date: string;
    entered: number;
    converted: number;
    conversionRate: Rate;
    revenue: number;
    holdoutEntered: number;
    holdoutConverted: number;
    /** Its goal window still runs: the figures can still grow. */
    open: boolean;
  }[];
  curve: { treatment: CurvePoint[]; holdout: CurvePoint[] };
  steps: (Messages & { version: number; step: string; type: string; reached: number })[];
  branches: { version: number; step: string; path: string; count: number }[];
  exits: { version: number; reason: string; count: number }[];
  channels: (Messages & { channel: string })[];
  variants: (Messages & { step: string; template: string })[];
  versions: {
    version: number;
    entered: number;
    sent: number;
    converted: number;
    conversionRate: Rate;
    revenue: number;
  }[];
}

/** GET /v1/journeys/:id and /v1/journeys/:id/versions/:v (a version view). */
export interface JourneyVersion {
  id: string;
  version: number;
  status: string;
  document: { name?: string; steps: import('./graph.js').StepDoc[] };
}

export interface JourneyDefinition {
  id: string;
  live: JourneyVersion | null;
  versions: { version: number; status: string }[];
}

export interface Consent {
  granted: boolean;
  at: string | null;
}

/** GET /v1/users/:id?include=internal */
export interface UserView {
  profile: {
    userId: string | null;
    anonymousIds: string[];
    traits: Record<string, unknown>;
    tags: string[];
    segments: string[];
    lifecycle: { state: string; since: string | null } | null;
    channels: {
      email: { address: string | null; consent: Consent | null };
      sms: { address: string | null; consent: Consent | null };
      push: { tokens: { token: string; platform: string; provider: string }[]; consent: Consent | null };
      wechat: { apps: Record<string, { openId: string }>; consent: Consent | null };
    };
    timezone: string | null;
    createdAt: string | null;
    lastSeenAt: string | null;
    eventCount: number;
  };
  events: { messageId: string; type: string; event: string; name?: string; timestamp: string | null }[];
}

/** GET /v1/users/:id/lifecycle */
export interface LifecycleView {
  state: string | null;
  since: string | null;
  /** Every move as it was announced. */
  history: { from: string | null; to: string | null; at: string }[];
  /** The moves the user's activity, as known now, implies (no announcement later refuted). */
  implied?: { from: string | null; to: string | null; at: string }[];
}

export interface LogEntry {
  at: string | null;
  event: string;
  step?: string;
  channel?: string;
  template?: string;
  status?: string;
  reason?: string;
  messageId?: string;
}

export interface Enrollment {
  id: string;
  version: number | null;
  state: string;
  step: string | null;
  holdout: boolean;
  enteredAt: string | null;
  exitedAt: string | null;
  exitReason: string | null;
  log: LogEntry[];
}

/** GET /v1/users/:id/journeys */
export interface UserJourneys {
  journeys: { journeyId: string; entries: number; enrollments: Enrollment[] }[];
}

/** GET /v1/journeys/:id/enrollments */
export interface JourneyEnrollments {
  enrollments: (Enrollment & { user: { userId: string | null; anonymousId: string | null } })[];
}

/** What a screen gets from main.js. */
export interface Context {
  /** Where the screen draws itself. */
  root: HTMLElement;
  range: Range;
  /** True once the user has moved on: a screen checks after each wait and stops drawing. */
  stale(): boolean;
}

/** One entry of GET /v1/ingest/messages (and of its live stream). */
export interface IngestEntry {
  seq: number;
  receivedAt: string;
  status: 'accepted' | 'rejected';
  path: string;
  index?: number;
  type?: string;
  event?: string;
  userId?: string;
  anonymousId?: string;
  messageId?: string;
  errors?: { pointer: string; message: string }[];
  httpStatus?: number;
  message?: Record<string, unknown>;
}

/** GET /v1/ingest/messages */
export interface IngestList {
  capacity: number;
  messages: IngestEntry[];
}

/** POST /v1/segments/preview and /v1/tag-rules/preview */
export interface AudiencePreview {
  count: number;
  scanned: number;
  sample: {
    userId: string | null;
    anonymousId: string | null;
    name: string | null;
    anonymous: boolean;
  }[];
}

/** One figure of a rendered message against its channel's limit. */
export interface Measure {
  pointer: string;
  kind: 'sms' | 'subject' | 'preheader' | 'key' | 'payload';
  value: number;
  unit: 'characters' | 'bytes' | 'segments';
  limit?: number;
  segments?: number;
  problem?: string;
  code?: 'too_long' | 'cut' | 'empty' | 'invalid';
}

/** POST /v1/templates/preview */
export interface TemplatePreview {
  channel: string;
  source: { kind: 'user'; userId: string } | { kind: 'sample' };
  /** The message in its provider's shape. */
  message: Record<string, unknown>;
  measures: Measure[];
  warnings: { variable: string; message: string }[];
}

/** POST /v1/templates/test-send */
export interface TestSendResult {
  status: 'sent' | 'failed' | 'sandbox';
  provider: string;
  messageId: string;
  to: string;
  class?: string;
  code?: string;
  detail?: string;
}
