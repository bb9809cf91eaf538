import { jsonBody } from './body.ts';
import express, { type Router } from 'express';
import type { StoredEvent } from '../model/events.ts';
import type { Profile } from '../model/profile.ts';
import { HISTORY_LIMIT, type Store } from '../ports/store.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { type Fault, InputError } from '../model/input-error.ts';
import { resolveKey } from './users.ts';
import { isJsonObject, type JsonObject } from '../model/json.ts';
import { DEFINITION_ID, type DefinitionStore } from '../ports/definitions.ts';
import { simulate, SimulationError } from '../engine/simulation/simulate.ts';
import { MAX_STORED_STREAM, storedStream, StreamTooLong } from '../engine/simulation/stored-stream.ts';
import type { JourneyDefinition } from '../journeys/journey.ts';
import { pastPeriod } from './times.ts';
import type { SimulatedChannels } from '../engine/simulation/replay.ts';
import { journeyContext } from '../journeys/context.ts';
import { journeyLogOf } from '../journeys/timeline.ts';
import { validateJourney } from '../journeys/validate.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { JourneyMemory } from '../model/journeys.ts';

const PAGE = 500;

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** One decision of an enrollment's execution log, as the API shows it. */
function decision(e: StoredEvent) {
  const {
    journeyId: _j,
    enrollmentId: _e,
    version: _v,
    seq: _s,
    event,
    statusAt,
    ...details
  } = e.properties ?? {};
  return {
    at: iso(e.timestamp),
    event: e.event,
    ...details,
    // A waitFor's awaited event (its messageId), named apart from the log entry's own name.
    ...(event !== undefined ? { awaited: event } : {}),
    ...(typeof statusAt === 'number' ? { statusAt: iso(statusAt) } : {}),
  };
}

/** The user's enrollments in one journey (newest first), each with its decisions (oldest first). */
function enrollmentsOf(
  journeyId: string,
  memory: JourneyMemory | undefined,
  history: readonly StoredEvent[],
) {
  const byEnrollment = new Map<string, StoredEvent[]>();
  // Newest enrollment first, each enrollment's decisions in the order they were made.
  for (const e of journeyLogOf(history).reverse()) {
    if (e.properties?.journeyId !== journeyId) continue;
    const id = String(e.properties.enrollmentId);
    const list = byEnrollment.get(id);
    if (list) list.push(e);
    else byEnrollment.set(id, [e]);
  }
  const active = memory?.active ?? null;
  return [...byEnrollment].map(([id, events]) => {
    const ordered = [...events].reverse();
    const exited = ordered.find((e) => e.event === 'journey_exited');
    const current = active?.id === id ? active : null;
    return {
      id,
      version: ordered[0].properties?.version ?? null,
      state: current ? 'active' : 'exited',
      step: current?.step ?? null,
      waitingUntil: iso(current?.dueAt),
      holdout: current?.holdout ?? ordered[0].properties?.holdout === true,
      enteredAt: iso(ordered.find((e) => e.event === 'journey_entered')?.timestamp ?? ordered[0].timestamp),
      exitedAt: iso(exited?.timestamp),
      exitReason: exited?.properties?.reason ?? null,
      log: ordered.map(decision),
    };
  });
}

function userSummary(profile: Profile) {
  return { userId: profile.userId, anonymousId: profile.userId ? null : profile.key.slice(2) };
}

const MAX_DRY_RUN_MESSAGES = 20_000;

function timeField(body: JsonObject, name: 'from' | 'to'): number | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(ms))
    throw InputError.invalid([{ pointer: `/${name}`, message: 'must be an ISO 8601 date-time' }]);
  return ms;
}

/** Execution logs (a user's journeys, a journey's enrollments) and the dry run. */
export function journeyRoutes(
  keys: KeyRing,
  store: Store,
  definitions: DefinitionStore,
  workspace: () => Workspace,
  onJourneyState: (journeyId: string, version: number) => Promise<string | null>,
  now: () => number,
  /** What the dry run's sandbox sends under (the channels file's policy and apps). */
  channels?: SimulatedChannels,
): Router {
  const router = express.Router();
  const read = requireScope(keys, 'read');
  const manage = requireScope(keys, 'manage');

  // Pause (users hold where they are), resume, stop (drain: users in flight finish; exit: they leave).
  // Each change is a published version of the journey's state document: the history is the audit trail.
  for (const action of ['pause', 'resume', 'stop'] as const) {
    router.post(`/v1/journeys/:id/${action}`, manage, jsonBody({ type: () => true }), async (req, res) => {
      const journeyId = String(req.params.id);
      if (!DEFINITION_ID.test(journeyId) || !(await definitions.live('journey', journeyId)))
        throw new InputError(404, 'not_found', `no published journey '${journeyId}'`);
      const body: unknown = req.body ?? {};
      const mode = isJsonObject(body) ? (body.mode ?? 'drain') : undefined;
      if (action === 'stop' && mode !== 'drain' && mode !== 'exit')
        throw InputError.invalid([
          { pointer: '/mode', message: "must be 'drain' (users in flight finish) or 'exit'" },
        ]);
      const document: JsonObject =
        action === 'pause'
          ? { state: 'paused' }
          : action === 'resume'
            ? { state: 'running', since: now() }
            : { state: 'stopped', mode: mode as string };
      const current = (await definitions.live('journeyState', journeyId))?.document;
      if (current?.state === 'stopped' && action !== 'stop')
        throw new InputError(
          409,
          'conflict',
          `journey '${journeyId}' is stopped; publish a new version to run it again`,
        );
      const draft = await definitions.saveDraft(
        'journeyState',
        journeyId,
        { id: journeyId, ...document },
        now(),
      );
      const published = await definitions.publish('journeyState', journeyId, draft.version, now());
      const job = await onJourneyState(journeyId, published.version);
      res.json({
        journeyId,
        ...document,
        changedAt: new Date(now()).toISOString(),
        ...(job ? { job } : {}),
      });
    });
  }

  /** The journey of a dry run or backtest body (a draft need not have a version yet), or its faults. */
  const journeyOf = async (body: JsonObject, faults: Fault[]) => {
    const draft = isJsonObject(body.journey) ? { version: 1, ...body.journey } : body.journey;
    const { journey, faults: journeyFaults } = validateJourney(draft, await journeyContext(definitions));
    faults.push(...journeyFaults.map((f) => ({ ...f, pointer: `/journey${f.pointer}` })));
    return journey;
  };
  /** The journey replayed against the live segments, tag rules and lifecycle. Nothing is stored. */
  const replay = async (journey: JourneyDefinition, messages: unknown[], from?: number, to?: number) => {
    try {
      const { journeys: _live, valueModel: _model, ...live } = workspace().definitions;
      return await simulate({
        ...live,
        journeys: [journey],
        messages,
        ...(channels ? { channels } : {}),
        from,
        to,
      });
    } catch (error) {
      if (error instanceof InputError)
        throw InputError.invalid(
          error.faults.map((f) => ({ ...f, pointer: f.pointer.replace(/^\/batch/, '/messages') })),
        );
      if (error instanceof SimulationError) throw new InputError(400, 'invalid_request', error.message);
      throw error;
    }
  };

  // The simulator over HTTP: the journey (published or not) on a stream given in the body.
  router.post(
    '/v1/journeys/simulate',
    requireScope(keys, 'manage'),
    jsonBody({ limit: '10mb', type: () => true }),
    async (req, res) => {
      const body: unknown = req.body;
      if (!isJsonObject(body))
        throw InputError.invalid([
          { pointer: '', message: 'body must be { journey, messages, from?, to? }' },
        ]);
      const faults: Fault[] = [];
      const journey = await journeyOf(body, faults);
      const messages = body.messages;
      if (!Array.isArray(messages) || messages.length > MAX_DRY_RUN_MESSAGES)
        faults.push({
          pointer: '/messages',
          message: `must be an array of at most ${MAX_DRY_RUN_MESSAGES} Segment messages`,
        });
      if (faults.length > 0 || !journey || !Array.isArray(messages)) throw InputError.invalid(faults);
      res.json(await replay(journey, messages, timeField(body, 'from'), timeField(body, 'to')));
    },
  );

  // The backtest: the journey (a draft or a published one) replayed on the calls the store kept for a
  // past period, on a virtual clock, with the real engine; nothing is sent or changed.
  router.post(
    '/v1/journeys/backtest',
    requireScope(keys, 'manage'),
    jsonBody({ limit: '1mb', type: () => true }),
    async (req, res) => {
      const body: unknown = req.body;
      if (!isJsonObject(body))
        throw InputError.invalid([
          { pointer: '', message: 'body must be { journey, since, until?, users? }' },
        ]);
      const faults: Fault[] = [];
      const journey = await journeyOf(body, faults);
      if (body.since === undefined) faults.push({ pointer: '/since', message: 'is required' });
      const period = pastPeriod(body, now(), faults);
      const users = body.users ?? 20;
      if (!Number.isSafeInteger(users) || (users as number) < 0 || (users as number) > 1000)
        faults.push({ pointer: '/users', message: 'must be an integer from 0 to 1000 (timelines shown)' });
      if (faults.length > 0 || !journey || !period) throw InputError.invalid(faults);
      const { since, until } = period;
      let messages: JsonObject[];
      try {
        messages = await storedStream(store, { since, until, maxMessages: MAX_STORED_STREAM });
      } catch (error) {
        if (error instanceof StreamTooLong)
          throw new InputError(413, 'too_large', `${error.message}: backtest a shorter one`);
        throw error;
      }
      const result = await replay(journey, messages, since, until);
      const shown = Object.keys(result.timelines)
        .sort()
        .slice(0, users as number);
      res.json({ ...result, timelines: Object.fromEntries(shown.map((u) => [u, result.timelines[u]])) });
    },
  );

  router.get('/v1/users/:id/journeys', read, async (req, res) => {
    const id = String(req.params.id);
    const key = await resolveKey(store, id);
    const profile = key ? (await store.getProfiles([key])).get(key) : undefined;
    if (!key || !profile) throw new InputError(404, 'not_found', `no user or anonymous visitor '${id}'`);
    const history = await store.recentEvents(key, HISTORY_LIMIT);
    const ids = new Set(Object.keys(profile.journeys ?? {}));
    for (const e of journeyLogOf(history)) ids.add(String(e.properties?.journeyId));
    res.json({
      journeys: [...ids].sort().map((journeyId) => {
        const memory = profile.journeys?.[journeyId];
        return {
          journeyId,
          entries: memory?.entries ?? 0,
          lastEnteredAt: iso(memory?.lastEnteredAt),
          lastExitedAt: iso(memory?.lastExitedAt),
          enrollments: enrollmentsOf(journeyId, memory, history),
        };
      }),
    });
  });

  // A scan over the profiles: fine for operators looking at a journey, not for a hot path.
  router.get('/v1/journeys/:id/enrollments', read, async (req, res) => {
    const journeyId = String(req.params.id);
    const state = req.query.state === undefined ? 'all' : String(req.query.state);
    if (!['all', 'active'].includes(state))
      throw InputError.invalid([{ pointer: '/query/state', message: "must be 'active' or 'all'" }]);
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw InputError.invalid([{ pointer: '/query/limit', message: 'must be an integer from 1 to 1000' }]);
    const users: Profile[] = [];
    let active = 0;
    let entered = 0;
    let cursor: string | null = null;
    do {
      const page = await store.scanProfiles(cursor, PAGE);
      for (const profile of page.profiles) {
        const memory = profile.journeys?.[journeyId];
        if (!memory || memory.entries === 0) continue;
        entered++;
        if (memory.active) active++;
        if (users.length < limit && (state === 'all' || memory.active)) users.push(profile);
      }
      cursor = page.cursor;
    } while (cursor !== null);
    const enrollments = [];
    for (const profile of users) {
      const history = await store.recentEvents(profile.key, HISTORY_LIMIT);
      for (const enrollment of enrollmentsOf(journeyId, profile.journeys?.[journeyId], history)) {
        if (state === 'active' && enrollment.state !== 'active') continue;
        enrollments.push({ user: userSummary(profile), ...enrollment });
      }
    }
    res.json({ journeyId, users: { entered, active }, enrollments });
  });
  return router;
}
