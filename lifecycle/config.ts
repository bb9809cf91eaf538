import { Ajv, type ErrorObject } from 'ajv';
import { Duration } from 'luxon';
import { didYouMean } from '../rules/suggest.ts';
import schema from '../schemas/lifecycle.schema.json' with { type: 'json' };

/** Which events count as activity. Conversion events always count; system events never do. */
export type ActivitySpec = { events: 'all' } | { events: string[] } | { exclude: string[] };

/** A workspace's lifecycle configuration, as stored in its versioned JSON file. */
export interface LifecycleConfig {
  $schema?: string;
  id: 'lifecycle';
  version: number;
  /** ISO 8601 durations in weeks, days, hours, minutes or seconds. */
  newFor: string;
  activeWithin: string;
  /** Absent or null: no churned stage. */
  churnAfter?: string | null;
  /** Absent or null: no reactivated stage (a returning user becomes active). */
  reactivatedFor?: string | null;
  activity: ActivitySpec;
  conversionEvents: string[];
  /** Added to SYSTEM_EVENTS. */
  systemEvents?: string[];
  latency: string;
}

export interface Fault {
  pointer: string;
  message: string;
}

/** Events the engine emits itself; they never count as activity, whatever the config says. */
export const SYSTEM_EVENTS: readonly string[] = [
  'segment_entered',
  'segment_exited',
  'tag_added',
  'tag_removed',
  'lifecycle_changed',
  'journey_entered',
  'journey_exited',
  'message_sent',
  'message_status',
  'message_delivered',
  'message_opened',
  'message_clicked',
  'message_bounced',
  'message_failed',
];

export const DEFAULT_LIFECYCLE: LifecycleConfig = {
  id: 'lifecycle',
  version: 1,
  newFor: 'P7D',
  activeWithin: 'P30D',
  churnAfter: null,
  reactivatedFor: null,
  activity: { events: 'all' },
  conversionEvents: ['order_paid'],
  latency: 'PT15M',
};

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
const validateStructure = ajv.compile(schema);

const DURATION_FIELDS = ['newFor', 'activeWithin', 'churnAfter', 'reactivatedFor', 'latency'] as const;
const EVENTS_MESSAGE = 'must be "all" or a list of event names';

function token(key: string | number): string {
  return String(key).replaceAll('~', '~0').replaceAll('/', '~1');
}

function article(type: string): string {
  return type === 'null' ? 'null' : /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function structuralFault(e: ErrorObject): Fault | null {
  const at = e.instancePath;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'if':
      return null; // the failing then/else branch reports the fault
    case 'required':
      return { pointer: `${at}/${token(String(params.missingProperty))}`, message: 'is required' };
    case 'additionalProperties':
      return {
        pointer: `${at}/${token(String(params.additionalProperty))}`,
        message: `is not a known key${didYouMean(params.additionalProperty, Object.keys((e.parentSchema as { properties?: object }).properties ?? {}))}`,
      };
    case 'uniqueItems':
      return {
        pointer: `${at}/${Math.max(Number(params.i), Number(params.j))}`,
        message: 'repeats an earlier item',
      };
    case 'pattern':
      return {
        pointer: at,
        message: 'must be an ISO 8601 duration in weeks, days, hours, minutes or seconds, e.g. P30D',
      };
    case 'minProperties':
    case 'maxProperties':
      return { pointer: at, message: 'must have exactly one of "events" or "exclude"' };
    case 'const':
    case 'type':
      if (at === '/activity/events') return { pointer: at, message: EVENTS_MESSAGE };
      if (e.keyword === 'const')
        return { pointer: at, message: `must be ${JSON.stringify(params.allowedValue)}` };
      return { pointer: at, message: `must be ${String(params.type).split(',').map(article).join(' or ')}` };
    case 'minItems':
      return { pointer: at, message: 'must list at least one event' };
    case 'minLength':
      return { pointer: at, message: 'must not be empty' };
    default:
      return { pointer: at, message: e.message ?? 'is invalid' };
  }
}

/** Milliseconds of a W/D/H/M/S duration, or a fault message. */
function durationMs(iso: string): number | string {
  const d = Duration.fromISO(iso);
  if (!d.isValid) return 'must be an ISO 8601 duration, e.g. P30D';
  if (d.years !== 0 || d.quarters !== 0 || d.months !== 0)
    return 'must be in weeks, days, hours, minutes or seconds: months and years have no fixed length';
  const ms = d.as('milliseconds');
  return ms > 0 ? ms : 'must be longer than zero';
}

/** Checks a lifecycle document and reports every fault with a JSON pointer; `config` only when valid. */
export function validateLifecycleConfig(doc: unknown): { config?: LifecycleConfig; faults: Fault[] } {
  const faults: Fault[] = [];
  if (!validateStructure(doc)) {
    for (const e of validateStructure.errors ?? []) {
      const fault = structuralFault(e);
      if (fault) faults.push(fault);
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { faults };
  const raw = doc as Record<string, unknown>;
  const faulted = new Set(faults.map((f) => f.pointer));

  const ms: Partial<Record<(typeof DURATION_FIELDS)[number], number>> = {};
  for (const field of DURATION_FIELDS) {
    const value = raw[field];
    if (typeof value !== 'string' || faulted.has(`/${field}`)) continue;
    const result = durationMs(value);
    if (typeof result === 'string') faults.push({ pointer: `/${field}`, message: result });
    else ms[field] = result;
  }
  if (ms.churnAfter !== undefined) {
    if (ms.activeWithin !== undefined && ms.churnAfter <= ms.activeWithin)
      faults.push({ pointer: '/churnAfter', message: 'must be longer than activeWithin' });
    else if (ms.newFor !== undefined && ms.churnAfter <= ms.newFor)
      faults.push({ pointer: '/churnAfter', message: 'must be longer than newFor' });
  }

  const strings = (value: unknown): string[] =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  const system = new Set([...SYSTEM_EVENTS, ...strings(raw.systemEvents)]);
  const conversions = strings(raw.conversionEvents);
  const each = (value: unknown, pointer: string, check: (name: string) => string | null): void => {
    if (!Array.isArray(value)) return;
    value.forEach((name: unknown, i) => {
      const message = typeof name === 'string' ? check(name) : null;
      if (message) faults.push({ pointer: `${pointer}/${i}`, message });
    });
  };
  each(raw.conversionEvents, '/conversionEvents', (name) =>
    system.has(name) ? 'is a system event and cannot be a conversion' : null,
  );
  const activity = typeof raw.activity === 'object' && raw.activity !== null ? raw.activity : {};
  const { events, exclude } = activity as { events?: unknown; exclude?: unknown };
  each(events, '/activity/events', (name) =>
    system.has(name) ? 'is a system event and never counts as activity' : null,
  );
  each(exclude, '/activity/exclude', (name) =>
    conversions.includes(name) ? 'is a conversion event, and conversions always count as activity' : null,
  );

  return faults.length === 0 ? { config: doc as LifecycleConfig, faults } : { faults };
}

/** A validated config in the form the decisions use: durations in milliseconds, event classifiers. */
export interface LifecycleRules {
  newFor: number;
  activeWithin: number;
  churnAfter: number | null;
  reactivatedFor: number | null;
  latency: number;
  isActivity(name: string): boolean;
  isConversion(name: string): boolean;
}

const compiled = new WeakMap<LifecycleConfig, LifecycleRules>();

/** Compiles (once per config object) a config that passed validateLifecycleConfig. */
export function lifecycleRules(config: LifecycleConfig): LifecycleRules {
  const cached = compiled.get(config);
  if (cached) return cached;
  const ms = (iso: string): number => {
    const result = durationMs(iso);
    if (typeof result === 'string') throw new Error(`lifecycle config: ${iso} ${result}`);
    return result;
  };
  const optional = (iso: string | null | undefined): number | null => (iso ? ms(iso) : null);
  const system = new Set([...SYSTEM_EVENTS, ...(config.systemEvents ?? [])]);
  const conversions = new Set(config.conversionEvents);
  const spec = config.activity;
  const listed = new Set('exclude' in spec ? spec.exclude : spec.events === 'all' ? [] : spec.events);
  const counts =
    'exclude' in spec
      ? (name: string) => !listed.has(name)
      : spec.events === 'all'
        ? () => true
        : (name: string) => listed.has(name);
  const rules: LifecycleRules = {
    newFor: ms(config.newFor),
    activeWithin: ms(config.activeWithin),
    churnAfter: optional(config.churnAfter),
    reactivatedFor: optional(config.reactivatedFor),
    latency: ms(config.latency),
    isConversion: (name) => conversions.has(name),
    isActivity: (name) => !system.has(name) && (conversions.has(name) || counts(name)),
  };
  compiled.set(config, rules);
  return rules;
}
