/**
 * The journey and message template documents (schemas/journey.schema.json, schemas/template.schema.json).
 * Durations are ISO 8601 strings (`PT1H`, `P7D`); times of day are `HH:MM` in the user's timezone.
 * journeys/validate.ts turns an untrusted document into one of these or a list of faults.
 */
import type { Json, JsonObject } from '../model/json.ts';
import type { Condition } from '../rules/types.ts';
import type { QuietHours, SendChannel } from '../model/channels.ts';
import type { LifecycleStage } from '../model/lifecycle.ts';

export const TRIGGER_TYPES = ['event', 'segment', 'lifecycle', 'schedule'] as const;
export const STEP_TYPES = [
  'wait',
  'waitFor',
  'branch',
  'split',
  'send',
  'tag',
  'update',
  'webhook',
  'exit',
] as const;
export type StepType = (typeof STEP_TYPES)[number];

export type SegmentMove = 'entered' | 'exited';

// ---------------------------------------------------------------------------------------------
// Journey

export interface JourneyDefinition {
  $schema?: string;
  id: string;
  version: number;
  name: string;
  description?: string;
  trigger: Trigger;
  /** Checked at entry; required (with a segment) for schedule triggers. */
  audience?: Audience;
  entry?: EntryPolicy;
  /** Any one of these ends the enrollment, cancelling pending timers and queued sends. */
  exit?: ExitCriterion[];
  goal?: Goal;
  holdout?: { percent: number };
  policy?: JourneyPolicy;
  /** At least one; users start at the first. */
  steps: Step[];
}

export type Trigger = EventTrigger | SegmentTrigger | LifecycleTrigger | ScheduleTrigger;

export interface EventTrigger {
  type: 'event';
  event: string;
  /** May read the triggering `event` fact. */
  where?: Condition;
}

export interface SegmentTrigger {
  type: 'segment';
  segment: string;
  on: SegmentMove;
}

export interface LifecycleTrigger {
  type: 'lifecycle';
  to: LifecycleStage;
  /** Absent: from any state. */
  from?: LifecycleStage;
}

export interface ScheduleTrigger {
  type: 'schedule';
  cron: string;
  /** IANA timezone the cron expression is read in. */
  tz: string;
  /** Evaluated per audience member at run time, without an event. */
  where?: Condition;
}

export interface Audience {
  segment?: string;
  /** Runs without an event: it cannot read the `event` fact. */
  condition?: Condition;
}

export type Reentry = 'never' | 'afterExit' | 'anytime';

export interface EntryPolicy {
  /** Default `never`. */
  reentry?: Reentry;
  /** Minimum time between two entries of a user; only with `afterExit` or `anytime`. */
  minInterval?: string;
}

export type ExitCriterion = { event: string; where?: Condition } | { segment: string; on: SegmentMove };

export type Goal =
  | {
      event: string;
      where?: Condition;
      /** Default `P7D`, from enrollment. */
      within?: string;
      /** Name of the event property holding the order amount. */
      revenue?: string;
      /** Dotted path of the order id in the event; default `properties.orderId`, else `properties.order_id` (else the event's own id). */
      orderId?: string;
    }
  | { segment: string; within?: string };

export interface JourneyPolicy {
  quietHours?: QuietHours;
  /** Exempt from frequency caps and quiet hours where the workspace allows it. */
  transactional?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Steps. Where a step has one successor, an absent `next` means the step after it in `steps`
// (none after the last: the journey ends); the same holds for an absent onEvent, onTimeout or else.

export type Step =
  WaitStep | WaitForStep | BranchStep | SplitStep | SendStep | TagStep | UpdateStep | WebhookStep | ExitStep;

interface StepBase<T extends StepType> {
  id: string;
  type: T;
}

export interface WaitUntil {
  /** `HH:MM` in the user's timezone: the next such time, or that time on `date`. */
  time: string;
  /** `YYYY-MM-DD`. */
  date?: string;
}

export type WaitStep = StepBase<'wait'> & { next?: string } & (
    { duration: string; until?: never } | { until: WaitUntil; duration?: never }
  );

export interface WaitForStep extends StepBase<'waitFor'> {
  event: string;
  where?: Condition;
  /** Dotted path (`properties.orderId`) that must be equal in the awaited and the triggering event. */
  match?: string;
  timeout: string;
  onEvent?: string;
  onTimeout?: string;
}

export interface BranchStep extends StepBase<'branch'> {
  /** First match wins. */
  branches: { condition: Condition; next: string }[];
  else?: string;
}

export interface SplitStep extends StepBase<'split'> {
  /** Weighted random, deterministic per user. */
  paths: { weight: number; next: string; name?: string }[];
}

export interface SendStep extends StepBase<'send'> {
  channel: SendChannel;
  template: string;
  fallback?: { channel: SendChannel; template: string };
  /** Content variants: the first whose condition holds replaces `template`. */
  variants?: { condition: Condition; template: string }[];
  next?: string;
}

export interface TagStep extends StepBase<'tag'> {
  add?: string[];
  remove?: string[];
  next?: string;
}

export interface UpdateStep extends StepBase<'update'> {
  traits: JsonObject;
  next?: string;
}

export interface WebhookStep extends StepBase<'webhook'> {
  url: string;
  method?: 'POST';
  headers?: Record<string, string>;
  body?: Json;
  /** At most `PT30S`. */
  timeout?: string;
  retries?: number;
  /** Trait name to a JSONPath (`$.data.level`) into the JSON response. */
  setTraits?: Record<string, string>;
  next?: string;
}

export interface ExitStep extends StepBase<'exit'> {
  reason?: string;
}
