import type { StoredEvent } from '../model/events.ts';
import type { ConditionDependencies } from '../rules/dependencies.ts';
import { type CompiledJourney, compileJourney } from './compile.ts';
import type { JourneyDefinition } from './journey.ts';

export type JourneyRunState =
  /** since: when it was last resumed (ms); timers held over a pause fire from then. */
  | { state: 'running'; since?: number }
  | { state: 'paused' }
  /** drain: users in flight finish; exit: they leave at once. */
  | { state: 'stopped'; mode: 'drain' | 'exit' };

const RUNNING: JourneyRunState = { state: 'running' };

/** The trigger a schedule's firing hands each audience member (`properties.journeyId`). */
export const SCHEDULED_RUN = 'journey_scheduled';

/**
 * The published journeys of a workspace: every published version (users in flight stay on the one
 * they entered), and an index of the live versions by what triggers them.
 */
export class JourneySet {
  private readonly versions = new Map<string, Map<number, CompiledJourney>>();
  private readonly byEvent = new Map<string, CompiledJourney[]>();
  private readonly bySegment = new Map<string, CompiledJourney[]>();
  private readonly byLifecycle: CompiledJourney[] = [];
  /** Live journeys started by a schedule, by id. */
  readonly scheduled = new Map<string, CompiledJourney>();
  readonly live: readonly CompiledJourney[];

  /**
   * `published`: every published version of every journey; the highest of each is live.
   * `states`: journeys paused or stopped (the others run).
   */
  constructor(
    published: readonly JourneyDefinition[] = [],
    private readonly states: Readonly<Record<string, JourneyRunState>> = {},
  ) {
    const live = new Map<string, CompiledJourney>();
    for (const definition of published) {
      const compiled = compileJourney(definition);
      let versions = this.versions.get(compiled.id);
      if (!versions) this.versions.set(compiled.id, (versions = new Map()));
      versions.set(compiled.version, compiled);
      const current = live.get(compiled.id);
      if (!current || current.version < compiled.version) live.set(compiled.id, compiled);
    }
    this.live = [...live.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const journey of this.live) {
      const trigger = journey.definition.trigger;
      if (trigger.type === 'event') push(this.byEvent, trigger.event, journey);
      if (trigger.type === 'segment') push(this.bySegment, `${trigger.on}:${trigger.segment}`, journey);
      if (trigger.type === 'lifecycle') this.byLifecycle.push(journey);
      if (trigger.type === 'schedule') this.scheduled.set(journey.id, journey);
    }
  }

  /** Whether any published version has a webhook step (users in flight stay on old versions). */
  get callsWebhooks(): boolean {
    this.webhooks ??= [...this.versions.values()].some((versions) =>
      [...versions.values()].some((j) => [...j.steps.values()].some((s) => s.step.type === 'webhook')),
    );
    return this.webhooks;
  }
  private webhooks?: boolean;

  /** What every published version's conditions read (users in flight stay on old versions). */
  get reads(): ConditionDependencies[] {
    return [...this.versions.values()].flatMap((versions) => [...versions.values()].flatMap((j) => j.reads));
  }

  /** running: users enter and move; paused: no one enters, users hold (exits still apply); stopped: no one enters. */
  state(id: string): JourneyRunState {
    return this.states[id] ?? RUNNING;
  }

  get size(): number {
    return this.live.length;
  }

  /** Every published version of a journey, oldest first. */
  published(id: string): CompiledJourney[] {
    return [...(this.versions.get(id)?.values() ?? [])].sort((a, b) => a.version - b.version);
  }

  version(id: string, version: number): CompiledJourney | undefined {
    return this.versions.get(id)?.get(version);
  }

  /** Event names that can start a journey (the ingest path loads these users' recent calls). */
  get triggerEvents(): ReadonlySet<string> {
    return new Set(this.byEvent.keys());
  }

  /** The live journeys this event can enrol the user in (their conditions still to be checked). */
  triggeredBy(event: StoredEvent): readonly CompiledJourney[] {
    if (event.type !== 'internal') return this.byEvent.get(event.event) ?? [];
    const props = event.properties ?? {};
    if (event.event === 'segment_entered' || event.event === 'segment_exited') {
      const on = event.event === 'segment_entered' ? 'entered' : 'exited';
      return this.bySegment.get(`${on}:${String(props.segmentId)}`) ?? [];
    }
    if (event.event === SCHEDULED_RUN) {
      const journey = this.scheduled.get(String(props.journeyId));
      return journey ? [journey] : [];
    }
    if (event.event === 'lifecycle_changed') {
      return this.byLifecycle.filter((j) => {
        const t = j.definition.trigger;
        return t.type === 'lifecycle' && t.to === props.to && (t.from === undefined || t.from === props.from);
      });
    }
    return [];
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
