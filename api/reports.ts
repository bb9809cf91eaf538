/**
 * Reports: per journey and the workspace overview, answered from the store's counters
 * (JSON, or CSV with `Accept: text/csv` / `?format=csv`), and the decision export (JSON lines).
 */
import { stringify } from 'csv-stringify/sync';
import express, { type Request, type Router } from 'express';
import { DateTime, IANAZone } from 'luxon';
import type { Json } from '../model/json.ts';
import { HISTORY_LIMIT, type Store } from '../ports/store.ts';
import { inLogOrder, journeyLogOf } from '../journeys/timeline.ts';
import { type JourneyReport, journeyReport } from '../reports/journey-report.ts';
import { rangeBounds, type ReportRange } from '../reports/range.ts';
import { readJourneyCounters, readLastTouchCounters } from '../reports/read.ts';
import type { Workspace } from '../workspace/workspace.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { type Fault, InputError } from '../model/input-error.ts';

/** The longest range a report answers. */
const MAX_DAYS = 366;
const DEFAULT_DAYS = 30;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const PAGE = 500;

/** The tables a journey report has as CSV (`?table=`), each a list of rows. */
const TABLES = [
  'daily',
  'cohorts',
  'curve',
  'steps',
  'branches',
  'exits',
  'channels',
  'variants',
  'versions',
  'summary',
] as const;
type Table = (typeof TABLES)[number];

function rangeOf(req: Request, now: number): ReportRange {
  const faults: Fault[] = [];
  const tz = req.query.tz === undefined ? 'UTC' : String(req.query.tz);
  if (!IANAZone.isValidZone(tz))
    faults.push({ pointer: '/query/tz', message: `'${tz}' is not an IANA timezone` });
  const zone = faults.length > 0 ? 'UTC' : tz;
  const date = (name: 'from' | 'to', fallback: string) => {
    const value = req.query[name] === undefined ? fallback : String(req.query[name]);
    if (!DATE.test(value) || !DateTime.fromISO(value, { zone }).isValid) {
      faults.push({ pointer: `/query/${name}`, message: 'must be a date, YYYY-MM-DD' });
      return null;
    }
    return DateTime.fromISO(value, { zone });
  };
  const today = DateTime.fromMillis(now, { zone }).startOf('day');
  const to = date('to', today.toISODate() as string);
  const from = date('from', (to ?? today).minus({ days: DEFAULT_DAYS - 1 }).toISODate() as string);
  if (from && to) {
    const days = to.diff(from, 'days').days;
    if (days < 0) faults.push({ pointer: '/query/from', message: 'must not be after to' });
    else if (days >= MAX_DAYS)
      faults.push({ pointer: '/query/from', message: `a range is at most ${MAX_DAYS} days` });
  }
  if (faults.length > 0) throw InputError.invalid(faults);
  return { from: from!.toISODate() as string, to: to!.toISODate() as string, tz };
}

function versionOf(req: Request): number | undefined {
  if (req.query.version === undefined) return undefined;
  const version = Number(req.query.version);
  if (!Number.isSafeInteger(version) || version < 1)
    throw InputError.invalid([{ pointer: '/query/version', message: 'must be a version number (1, 2...)' }]);
  return version;
}

/** CSV when asked for by `?format=csv` or an Accept header that prefers it. */
function wantsCsv(req: Request): boolean {
  const format = req.query.format;
  if (format !== undefined && format !== 'csv' && format !== 'json')
    throw InputError.invalid([{ pointer: '/query/format', message: "must be 'json' or 'csv'" }]);
  if (format !== undefined) return format === 'csv';
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

function tableOf(report: JourneyReport, table: Table): Record<string, Json>[] {
  switch (table) {
    case 'curve':
      return report.curve.treatment.map((t, i) => ({
        day: t.day,
        converted: t.converted,
        rate: t.rate,
        holdoutConverted: report.curve.holdout[i].converted,
        holdoutRate: report.curve.holdout[i].rate,
      }));
    case 'summary': {
      const { totals, treatment, holdout, uplift, lastTouch } = report;
      return [
        {
          ...totals,
          treatmentEntered: treatment.entered,
          treatmentConverted: treatment.converted,
          treatmentRate: treatment.conversionRate,
          holdoutEntered: holdout.entered,
          holdoutConverted: holdout.converted,
          holdoutRate: holdout.conversionRate,
          uplift: uplift?.absolute ?? null,
          upliftLow: uplift?.ci95[0] ?? null,
          upliftHigh: uplift?.ci95[1] ?? null,
          lastTouchOrders: lastTouch.orders,
          lastTouchRevenue: lastTouch.revenue,
        },
      ];
    }
    default:
      return report[table] as unknown as Record<string, Json>[];
  }
}

type Counters = ReadonlyMap<string, number>[];

const csvOf = (rows: Record<string, Json>[]): string =>
  rows.length === 0
    ? ''
    : stringify(rows, { header: true, columns: Object.keys(rows[0]), escape_formulas: true });

export function reportRoutes(
  keys: KeyRing,
  store: Store,
  workspace: () => Workspace,
  now: () => number,
): Router {
  const router = express.Router();
  const read = requireScope(keys, 'read');

  /** `lastTouch`: the workspace's counters of the range, when already read (the overview). */
  const reportOf = async (id: string, range: ReportRange, version?: number, lastTouch?: Counters) => {
    const versions = workspace().journeys.published(id);
    if (versions.length === 0) throw new InputError(404, 'not_found', `no published journey '${id}'`);
    if (version !== undefined && !versions.some((j) => j.version === version))
      throw InputError.invalid([
        { pointer: '/query/version', message: `journey '${id}' has no published version ${version}` },
      ]);
    const [counters, all] = await Promise.all([
      readJourneyCounters(store, versions, range),
      lastTouch ?? readLastTouchCounters(store, range),
    ]);
    return journeyReport({
      journeyId: id,
      definitions: versions.map((j) => j.definition),
      counters,
      workspace: all,
      range,
      ...(version ? { version } : {}),
      now: now(),
    });
  };

  router.get('/v1/reports/journeys', read, async (req, res) => {
    const range = rangeOf(req, now());
    const csv = wantsCsv(req);
    const ws = workspace();
    const lastTouch = await readLastTouchCounters(store, range);
    const rows = await Promise.all(
      ws.journeys.live.map(async (j) => {
        const report = await reportOf(j.id, range, undefined, lastTouch);
        return {
          id: j.id,
          name: j.definition.name,
          state: ws.journeys.state(j.id).state,
          ...report.totals,
          lastTouchRevenue: report.lastTouch.revenue,
          daily: report.daily.map(({ date, entered, converted, revenue }) => ({
            date,
            entered,
            converted,
            revenue,
          })),
        };
      }),
    );
    rows.sort((a, b) => b.converted - a.converted || b.revenue - a.revenue || (a.id < b.id ? -1 : 1));
    if (csv) {
      res.type('text/csv').send(csvOf(rows.map(({ daily: _daily, ...row }) => row)));
      return;
    }
    res.json({ range, journeys: rows });
  });

  router.get('/v1/reports/journeys/:id', read, async (req, res) => {
    const range = rangeOf(req, now());
    const version = versionOf(req);
    const csv = wantsCsv(req);
    const table = req.query.table === undefined ? 'daily' : String(req.query.table);
    if (!(TABLES as readonly string[]).includes(table))
      throw InputError.invalid([{ pointer: '/query/table', message: `must be one of ${TABLES.join(', ')}` }]);
    const report = await reportOf(String(req.params.id), range, version);
    if (csv) res.type('text/csv').send(csvOf(tableOf(report, table as Table)));
    else res.json(report);
  });

  // Every decision of a journey in the range, one JSON line each, user by user in decision order: a scan
  // over the users who entered it (for analysts' tools, not for dashboards).
  router.get('/v1/journeys/:id/decisions', read, async (req, res) => {
    const journeyId = String(req.params.id);
    const range = rangeOf(req, now());
    if (workspace().journeys.published(journeyId).length === 0)
      throw new InputError(404, 'not_found', `no published journey '${journeyId}'`);
    const { start, end } = rangeBounds(range);
    res.type('application/x-ndjson; charset=utf-8');
    let cursor: string | null = null;
    do {
      const page = await store.scanProfiles(cursor, PAGE);
      for (const profile of page.profiles) {
        if (!profile.journeys?.[journeyId]) continue;
        const history = await store.recentEvents(profile.key, HISTORY_LIMIT, start);
        const held = history.filter((e) => e.type === 'internal' && e.event === 'journey_held');
        const lines = inLogOrder([...journeyLogOf(history), ...held])
          .filter((e) => e.properties?.journeyId === journeyId && e.timestamp >= start && e.timestamp < end)
          .flatMap((e) => decisionOf(e.event, e.timestamp, e.properties ?? {}, who(profile)));
        if (lines.length > 0) res.write(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      }
      cursor = page.cursor;
    } while (cursor !== null);
    res.end();
  });

  return router;
}

/** Who a row is about: the user id, or the anonymous id of a visitor who never identified. */
const who = (profile: { userId: string | null; key: string }): Record<string, Json> =>
  profile.userId !== null ? { user: profile.userId } : { user: null, anonymousId: profile.key.slice(2) };

/**
 * A journey log entry as an analyst's row: enter, send, hold (holdout shadow, global control, quiet
 * hours, awaiting contact), skip, exit. Other steps are left out.
 */
function decisionOf(
  event: string,
  at: number,
  p: Record<string, Json>,
  user: Record<string, Json>,
): Record<string, Json>[] {
  const base = {
    at: new Date(at).toISOString(),
    ...user,
    journeyId: p.journeyId,
    version: p.version,
    enrollmentId: p.enrollmentId,
    step: p.step,
  };
  const message = { messageId: p.messageId, channel: p.channel, template: p.template };
  switch (event) {
    case 'journey_entered':
      return [{ ...base, decision: 'enter', trigger: p.trigger, holdout: p.holdout ?? false }];
    case 'message_sent':
      return p.status === 'shadow'
        ? [{ ...base, decision: 'hold', reason: 'holdout', ...message }]
        : [
            {
              ...base,
              decision: 'send',
              ...message,
              status: p.status,
              ...(p.reason ? { reason: p.reason } : {}),
            },
          ];
    case 'message_skipped':
      return [{ ...base, decision: 'skip', ...message, reason: p.reason }];
    case 'journey_held':
      return [{ ...base, decision: 'hold', reason: p.reason, trigger: p.trigger }];
    case 'journey_step':
      return p.action === 'deferred' ? [{ ...base, decision: 'hold', reason: p.reason, until: p.dueAt }] : [];
    case 'journey_exited':
      return [{ ...base, decision: 'exit', reason: p.reason }];
    default:
      return [];
  }
}
