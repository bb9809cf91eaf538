import stringify from 'safe-stable-stringify';
import type { JourneyDefinition } from '../journeys/journey.ts';
import { type JourneyRunState, JourneySet } from '../journeys/journey-set.ts';
import { nextJourneyDue } from '../journeys/runtime.ts';
import { nextSendDue } from '../journeys/outbox.ts';
import { createHash } from 'node:crypto';
import { aggregateId, type EventFilter, windowOf, windowStart } from '../rules/aggregates.ts';
import { nextShiftFlip, type TimeTriggers } from '../rules/time-triggers.ts';
import type { Profile } from '../model/profile.ts';
import { DEFAULT_LIFECYCLE, type LifecycleConfig } from '../lifecycle/config.ts';
import { nextTransitionAt } from '../lifecycle/timeline.ts';
import { NO_PROFILE, profileContext } from '../segments/context.ts';
import { compile } from '../rules/index.ts';
import type { AggregateSpec, EventFact, FactContext } from '../rules/types.ts';
import { type CompiledSegment, compileSegment, holds } from '../segments/membership.ts';
import type { SegmentDefinition } from '../segments/segment.ts';
import type { TagRuleDefinition } from '../segments/tag-rule.ts';
import type { ValueModelConfig } from '../segments/value-model-config.ts';
import { type CompiledTagRule, compileTagRule } from '../segments/tag-rules.ts';
import type { AggregateState } from '../model/aggregates.ts';
import type { TemplateDefinition } from '../templates/template.ts';

/** What a workspace is made of: the live definitions (every published version of journeys). */
export interface WorkspaceDefinitions {
  segments?: readonly SegmentDefinition[];
  tagRules?: readonly TagRuleDefinition[];
  lifecycle?: LifecycleConfig;
  valueModel?: ValueModelConfig;
  journeys?: readonly JourneyDefinition[];
  /** The live version of each message template. */
  templates?: readonly TemplateDefinition[];
  timezone?: string;
  /** Journeys paused or stopped, by id. */
  journeyStates?: Readonly<Record<string, JourneyRunState>>;
  /** A simulation: webhook steps make no calls. */
  dryRun?: boolean;
  /** Profile buckets [from, to) held out of every journey (the global control group). */
  globalControl?: { from: number; to: number } | null;
}

/** An aggregate that published rules read, kept current on every profile. */
export interface MaterialisedAggregate {
  id: string;
  spec: AggregateSpec;
  filter?: EventFilter;
}

/** An aggregate's `where` reads only the event (validation ensures it). */
function eventFilter(spec: AggregateSpec): EventFilter | undefined {
  if (!spec.where) return undefined;
  const predicate = compile(spec.where);
  return (event: EventFact) => {
    const ctx: FactContext = {
      now: 0,
      timezone: 'UTC',
      profile: NO_PROFILE,
      event,
      aggregate: () => null,
      lastEventAt: () => null,
      firstEventAt: () => null,
    };
    return holds(predicate, ctx);
  };
}

/**
 * The published definitions of a workspace, compiled, with the dependency index: which segments an
 * event of a given name can change. A segment reading the profile (traits, tags, lifecycle...) can
 * change with any call of its user; one reading only aggregates and event times, only with the
 * events those count.
 */
export class Workspace {
  readonly segments: readonly CompiledSegment[];
  readonly aggregates: readonly MaterialisedAggregate[];
  /** Event names whose first and last times rules read. */
  readonly trackedEvents: ReadonlySet<string>;
  /**
   * Names what a profile keeps for this workspace (its aggregates, event times, and the lifecycle
   * settings its activity timeline depends on). A profile kept for another one is rebuilt from its
   * stored history before it is used.
   */
  readonly materialisation: string;
  /** Day boundaries for users without a timezone. */
  readonly timezone: string;
  private readonly segmentsByEvent = new Map<string, CompiledSegment[]>();
  private readonly profileSegments: CompiledSegment[] = [];
  private readonly aggregatesByEvent = new Map<string, MaterialisedAggregate[]>();
  /** Event-only segments that hold for a user with no events ("never ordered"). */
  private readonly trueWithoutEvents: readonly CompiledSegment[];
  /** Segments reading tags or segments: re-evaluated when another segment moves the user. */
  readonly tagReadingSegments: readonly CompiledSegment[];
  /** Segments whose membership can change with time alone, re-checked on each user's timer. */
  readonly timeSegments: readonly CompiledSegment[];

  readonly tagRules: readonly CompiledTagRule[];
  /** Value tiers and RFM, recomputed on its schedule; null when the workspace has none. */
  readonly valueModel: ValueModelConfig | null;
  /** The published journeys. */
  readonly journeys: JourneySet;
  /** Live message templates by id. */
  readonly templates: ReadonlyMap<string, TemplateDefinition>;
  /** The lifecycle every profile follows (the default lifecycle unless the workspace has its own). */
  readonly lifecycle: LifecycleConfig;
  /** Segments reading the profile: re-evaluated when the lifecycle moves with time. */
  get profileReadingSegments(): readonly CompiledSegment[] {
    return this.profileSegments;
  }
  private readonly tagRulesByEvent = new Map<string, CompiledTagRule[]>();
  private readonly everyEventTagRules: CompiledTagRule[] = [];

  constructor(readonly definitions: WorkspaceDefinitions = {}) {
    this.journeys = new JourneySet(definitions.journeys, definitions.journeyStates);
    this.valueModel = definitions.valueModel ?? null;
    this.templates = new Map((definitions.templates ?? []).map((t) => [t.id, t]));
    this.timezone = definitions.timezone ?? 'UTC';
    this.lifecycle = definitions.lifecycle ?? DEFAULT_LIFECYCLE;
    this.segments = (definitions.segments ?? []).map(compileSegment);
    // json-rules-engine runs higher priorities first; equal ones keep file order.
    this.tagRules = (definitions.tagRules ?? []).map(compileTagRule).sort((a, b) => b.priority - a.priority);
    const aggregates = new Map<string, MaterialisedAggregate>();
    const tracked = new Set<string>();
    const journeyReads = this.journeys.reads.map((reads) => ({ reads }));
    for (const { reads } of [...this.segments, ...this.tagRules, ...journeyReads]) {
      for (const spec of reads.aggregates) {
        const id = aggregateId(spec);
        if (!aggregates.has(id)) aggregates.set(id, { id, spec, filter: eventFilter(spec) });
      }
      for (const name of reads.events) tracked.add(name);
    }
    for (const segment of this.segments) {
      if (segment.reads.traits.length > 0) this.profileSegments.push(segment);
      else for (const name of segment.reads.events) push(this.segmentsByEvent, name, segment);
    }
    for (const rule of this.tagRules) {
      // A rule that names the events it reacts to runs on those; one reading the profile, or the event
      // without naming it, runs on every event.
      const { reads } = rule;
      if (reads.traits.length > 0 || (reads.readsEvent && reads.events.length === 0))
        this.everyEventTagRules.push(rule);
      else for (const name of reads.events) push(this.tagRulesByEvent, name, rule);
    }
    this.aggregates = [...aggregates.values()];
    for (const a of this.aggregates) push(this.aggregatesByEvent, a.spec.event, a);
    this.trackedEvents = tracked;
    this.materialisation = fingerprint([
      ...this.aggregates.map((a) => `a:${a.id}`).sort(),
      ...[...tracked].map((name) => `t:${name}`).sort(),
      // Any lifecycle setting can move users: a new one rebuilds (and re-announces) their state.
      `l:${lifecycleSettings(this.lifecycle)}`,
    ]);
    this.timeSegments = this.segments.filter((s) => s.triggers !== null);
    // With no events, aggregates read 0 (or null) and event times null whatever the time, so an
    // event-only segment's answer for such a user is fixed: compute it once.
    const eventless: FactContext = {
      now: 0,
      timezone: this.timezone,
      profile: NO_PROFILE,
      event: null,
      aggregate: (spec) => (spec.fn === 'count' || spec.fn === 'sum' ? 0 : null),
      lastEventAt: () => null,
      firstEventAt: () => null,
    };
    const profileReaders = new Set(this.profileSegments);
    this.trueWithoutEvents = this.segments.filter(
      (s) => !profileReaders.has(s) && holds(s.predicate, eventless),
    );
    this.tagReadingSegments = this.segments.filter((s) =>
      s.reads.traits.some(
        (path) => path === '$' || path.startsWith('$.tags') || path.startsWith('$.segments'),
      ),
    );
  }

  /**
   * The earliest instant after `now` at which the user's lifecycle or one of the time-relative segments
   * could change (a lifecycle move falling due, a window dropping a bucket, a withinLast running out, a
   * local midnight); null when none can. Messages to hand over and webhooks to call count unless
   * left out (`sends: false`, `webhooks: false`): a decision alone cannot make them.
   */
  nextCheckAt(
    profile: Profile,
    now: number,
    options: { sends?: boolean; webhooks?: boolean } = {},
  ): number | null {
    let next = profile.activity
      ? (nextTransitionAt(profile.activity, now, this.lifecycle) ?? Number.POSITIVE_INFINITY)
      : Number.POSITIVE_INFINITY;
    // A timer already due (a webhook to call, a message to hand over) fires at once; its job sets
    // the next one.
    const dues = [nextJourneyDue(profile, this.journeys, options.webhooks ?? true)];
    if (options.sends ?? true) dues.push(nextSendDue(profile));
    for (const due of dues) if (due !== null && due < next) next = Math.max(due, now);
    if (this.timeSegments.length === 0) return Number.isFinite(next) ? next : null;
    const ctx = profileContext(profile, now, { timezone: this.timezone });
    for (const segment of this.timeSegments) {
      const triggers = segment.triggers as TimeTriggers;
      const shift = nextShiftFlip(triggers, ctx);
      if (shift !== null && shift < next) next = shift;
      for (const spec of triggers.windows) {
        const flip = windowFlip(profile.aggregates?.[aggregateId(spec)], spec, now);
        if (flip !== null && flip < next) next = flip;
      }
    }
    return Number.isFinite(next) ? next : null;
  }

  /** Segments an event of this name may move the user into or out of. */
  segmentsFor(eventName: string): CompiledSegment[] {
    const byEvent = this.segmentsByEvent.get(eventName);
    return byEvent ? [...this.profileSegments, ...byEvent] : this.profileSegments;
  }

  /**
   * The segments a new user can be in after these events: those reading the profile, those counting
   * these events, and those that hold for a user with no events. Every other segment is false for them.
   */
  segmentsForNewProfile(eventNames: Iterable<string>): CompiledSegment[] {
    const set = new Set([...this.profileSegments, ...this.trueWithoutEvents]);
    for (const name of eventNames) for (const s of this.segmentsByEvent.get(name) ?? []) set.add(s);
    return [...set];
  }

  /** Tag rules an event of this name may fire, highest priority first. */
  tagRulesFor(eventName: string): CompiledTagRule[] {
    const byEvent = this.tagRulesByEvent.get(eventName);
    if (!byEvent) return this.everyEventTagRules;
    const set = new Set([...this.everyEventTagRules, ...byEvent]);
    return this.tagRules.filter((r) => set.has(r));
  }

  aggregatesFor(eventName: string): readonly MaterialisedAggregate[] {
    return this.aggregatesByEvent.get(eventName) ?? [];
  }
}

/** When the oldest bucket still inside the window leaves it: the window's value can only change then. */
function windowFlip(state: AggregateState | undefined, spec: AggregateSpec, now: number): number | null {
  const w = windowOf(spec);
  if (!state || !w) return null;
  const start = windowStart(spec, now);
  let oldest = Infinity;
  // With `per`, the buckets are in the groups (`g`); any group's oldest one leaving can change the value.
  for (const buckets of [state.b, ...Object.values(state.g ?? {})]) {
    const first = buckets.find((bucket) => bucket[0] * w.bucket >= start);
    if (first && first[0] < oldest) oldest = first[0];
  }
  return Number.isFinite(oldest) ? (oldest + 1) * w.bucket + w.length : null;
}

function fingerprint(parts: string[]): string {
  return createHash('sha1').update(parts.join('\n')).digest('base64url').slice(0, 12);
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function lifecycleSettings(config: LifecycleConfig): string {
  const { $schema: _schema, id: _id, version: _version, ...settings } = config;
  return stringify(settings) ?? '';
}
