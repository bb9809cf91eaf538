import { decideMessages } from '../../decide/messages.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { InboundMessage, StoredEvent } from '../../model/events.ts';
import { HISTORY_LIMIT, type Store } from '../../ports/store.ts';
import { commitDecisions } from '../commit/commit-loop.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import {
  callWebhooks,
  type WebhookCaller,
  type WebhookOutcome,
  type WebhookOutcomes,
} from '../../journeys/webhook.ts';
import type { ApplyOptions } from '../../profiles/apply.ts';
import { type Profile, profileKeyForAnonymous, profileKeyForUser } from '../../model/profile.ts';

export interface BatchResult {
  /** Messages applied to a profile for the first time. */
  applied: number;
  /** Messages skipped because their messageId was already applied. */
  duplicates: number;
  /** Profiles written. */
  profiles: number;
  /** Compare-and-set conflicts that were retried. */
  retries: number;
}

/** Recent calls read for users who may enter a journey. */
const JOURNEY_HISTORY = 200;

export interface ApplyBatchOptions extends ApplyOptions {
  /**
   * The published segments (and the aggregates they read): each new event updates them on its
   * profile, in batch order (identify before track), inside the same compare-and-set commit, so the
   * segment_entered / segment_exited events it raises are stored exactly once.
   */
  workspace?: Workspace;
  /** Decision time (membership of time-relative segments); the worker's clock. */
  now?: () => number;
  /** Adds users' re-check timers (segments that change with time alone); called before the commit. */
  scheduleChecks?: ScheduleChecks;
  /** Makes the calls of webhook steps the messages lead to, before their decision. */
  callWebhook?: WebhookCaller;
  /** The batch is history imported up to this time (see decide/messages.ts). */
  importUntil?: number;
}

/** Identify and alias calls apply before the other calls of a batch; then event time, then batch order. */
function batchOrder(a: { m: InboundMessage; i: number }, b: { m: InboundMessage; i: number }): number {
  const ta = a.m.type === 'identify' || a.m.type === 'alias' ? 0 : 1;
  const tb = b.m.type === 'identify' || b.m.type === 'alias' ? 0 : 1;
  return ta - tb || a.m.timestamp - b.m.timestamp || a.i - b.i;
}

interface Work {
  key: string;
  userId: string | null;
  messages: InboundMessage[];
  /** Anonymous profiles to fold into this one (ids linked to this user). */
  absorbs: string[];
}

/**
 * Applies a batch of messages to profiles, exactly once per messageId, under any number of
 * concurrent workers: each profile is read, decided and written with compare-and-set, and the
 * applied messageIds are recorded in the same atomic write.
 */
export async function applyBatch(
  store: Store,
  messages: readonly InboundMessage[],
  options: ApplyBatchOptions,
): Promise<BatchResult> {
  const result: BatchResult = { applied: 0, duplicates: 0, profiles: 0, retries: 0 };
  const ordered = messages.map((m, i) => ({ m, i })).sort(batchOrder);

  // Identity first: link anonymous ids to users, then route every message to its profile.
  const links = new Map<string, string>();
  for (const { m } of ordered) {
    if (!m.userId) continue;
    if (m.anonymousId && !links.has(m.anonymousId)) links.set(m.anonymousId, m.userId);
    if (m.type === 'alias' && m.previousId && !links.has(m.previousId)) links.set(m.previousId, m.userId);
  }
  // One read for every anonymous id of the batch; only the ids not linked yet are linked, one call
  // each. A link, once made, stays until its user is erased, so the usual repeat link costs nothing.
  const anonymousIds = new Set(links.keys());
  for (const { m } of ordered) if (!m.userId && m.anonymousId) anonymousIds.add(m.anonymousId);
  const linked = await store.getAliases([...anonymousIds]);
  await Promise.all(
    [...links]
      .filter(([anonymousId]) => !linked.has(anonymousId))
      .map(async ([anonymousId, userId]) => {
        linked.set(anonymousId, await store.linkAlias(anonymousId, userId));
      }),
  );

  const work = new Map<string, Work>();
  const workFor = (key: string, userId: string | null): Work => {
    let w = work.get(key);
    if (!w) {
      w = { key, userId, messages: [], absorbs: [] };
      work.set(key, w);
    }
    return w;
  };
  for (const { m } of ordered) {
    const userId = m.userId ?? linked.get(m.anonymousId as string) ?? null;
    const key = userId ? profileKeyForUser(userId) : profileKeyForAnonymous(m.anonymousId as string);
    workFor(key, userId).messages.push(m);
  }
  for (const [anonymousId, userId] of links) {
    if (linked.get(anonymousId) === userId)
      workFor(profileKeyForUser(userId), userId).absorbs.push(anonymousId);
  }

  const pending = [...work.values()];
  const outcome = await commitAll(store, pending, options, result);
  // An anonymous profile written while its id was being linked elsewhere (or, on a retry, maybe
  // written by the failed attempt): fold it in now.
  const orphans = [...new Set(outcome.visitorsToCheck)];
  if (orphans.length > 0) {
    const aliases = await store.getAliases(orphans);
    const late: Work[] = [...aliases].map(([anonymousId, userId]) => ({
      key: profileKeyForUser(userId),
      userId,
      messages: [],
      absorbs: [anonymousId],
    }));
    if (late.length > 0) await commitAll(store, late, options, result);
  }
  return result;
}

/** What the commit loop reads for a batch besides the profiles. */
interface BatchReads {
  applied: ReadonlySet<string>;
  /** Stored histories of profiles kept for another workspace, to rebuild them from. */
  histories: ReadonlyMap<string, readonly StoredEvent[]>;
  /** Recent calls of users who may enter a journey now. */
  journeyHistories: ReadonlyMap<string, readonly StoredEvent[]>;
  /** Answers of the webhook steps each work's messages lead to, by profile key. */
  webhooks: ReadonlyMap<string, WebhookOutcomes>;
}

/** Rounds of webhook calls before a batch's decision at most (each answer may lead to another step). */
const WEBHOOK_ROUNDS = 5;

async function commitAll(
  store: Store,
  initial: Work[],
  options: ApplyBatchOptions,
  result: BatchResult,
): Promise<{ visitorsToCheck: string[] }> {
  const visitorsToCheck: string[] = [];
  const { workspace } = options;
  const now = options.now ?? Date.now;
  const tallies = new Map<Work, { applied: number; duplicates: number }>();
  const absorbKey = (w: Work, profiles: ReadonlyMap<string, Profile>) =>
    // One absorb per commit (the port's unit); further linked ids are folded on later attempts.
    w.absorbs.map(profileKeyForAnonymous).find((k) => profiles.has(k));
  const decide = (
    w: Work,
    profiles: ReadonlyMap<string, Profile>,
    at: number,
    reads: BatchReads,
    webhooks?: WebhookOutcomes,
  ) => {
    const key = absorbKey(w, profiles);
    const absorbed = key ? profiles.get(key) : undefined;
    const history = reads.histories.get(w.key);
    const absorbedHistory = key ? reads.histories.get(key) : undefined;
    return decideMessages(
      {
        key: w.key,
        userId: w.userId,
        current: profiles.get(w.key),
        messages: w.messages,
        applied: reads.applied,
        ...(history ? { history } : {}),
        recent: reads.journeyHistories.get(w.key) ?? [],
        ...(absorbed ? { absorbed: { profile: absorbed, history: absorbedHistory } } : {}),
      },
      {
        workspace,
        now: at,
        ...(webhooks ? { webhooks } : {}),
        ...(options.importUntil !== undefined ? { importUntil: options.importUntil } : {}),
      },
      options,
    );
  };
  /**
   * A webhook step the messages lead to is called before their decision, as the user's timer would
   * call it when it fell due: the decision is tried on copies, the steps it stops at are called, and
   * so on while answers lead to further steps. The answers are reused by every attempt.
   */
  const callWebhooksAhead = async (
    pending: readonly Work[],
    profiles: ReadonlyMap<string, Profile>,
    reads: BatchReads & { webhooks: Map<string, WebhookOutcomes> },
    caller: WebhookCaller,
  ) => {
    await Promise.all(
      pending.map(async (w) => {
        const outcomes = new Map<string, WebhookOutcome>();
        for (let round = 0; round < WEBHOOK_ROUNDS; round++) {
          const copies = new Map<string, Profile>();
          for (const k of [w.key, ...w.absorbs.map(profileKeyForAnonymous)]) {
            const p = profiles.get(k);
            if (p) copies.set(k, structuredClone(p));
          }
          const { calls } = decide(w, copies, now(), reads, outcomes);
          if (calls.length === 0) break;
          for (const [k, outcome] of await callWebhooks(calls, caller)) outcomes.set(k, outcome);
        }
        if (outcomes.size > 0) reads.webhooks.set(w.key, outcomes);
      }),
    );
  };
  const loop = await commitDecisions<Work, BatchReads>(
    store,
    initial,
    {
      alsoRead: (w) => w.absorbs.map(profileKeyForAnonymous),
      read: async (pending, profiles) => {
        const messageIds = [...new Set(pending.flatMap((w) => w.messages.map((m) => m.messageId)))];
        // Where each message may have been applied: its profile now, or the anonymous one it went to
        // before its anonymousId was linked.
        const appliedTo = new Map<string, string[]>();
        for (const w of pending) {
          for (const m of w.messages) {
            const keys = appliedTo.get(m.messageId) ?? [];
            keys.push(w.key);
            if (m.anonymousId) keys.push(profileKeyForAnonymous(m.anonymousId));
            appliedTo.set(m.messageId, keys);
          }
        }
        // Profiles kept for another workspace (a publication reads something new) are rebuilt from
        // their stored history before anything is decided on them.
        const stale = new Set(
          workspace
            ? [...profiles.values()]
                .filter((p) => p.materialisedFor !== workspace.materialisation)
                .map((p) => p.key)
            : [],
        );
        // Users who may enter a journey now: their recent calls tell whether an awaited event already happened.
        const triggers = workspace?.journeys.triggerEvents;
        const [applied, histories, journeyHistories] = await Promise.all([
          store.appliedMessageIds(messageIds, appliedTo),
          Promise.all(
            [...stale].map(async (key) => [key, await store.recentEvents(key, HISTORY_LIMIT)] as const),
          ),
          Promise.all(
            pending
              .filter(
                (w) =>
                  !stale.has(w.key) &&
                  triggers !== undefined &&
                  w.messages.some((m) => m.type === 'track' && triggers.has(m.event as string)),
              )
              // A trigger looks at the calls at or after its own time (an exit or awaited event that
              // arrived first): none older than the batch's oldest message can matter.
              .map(async (w) => {
                const since = Math.min(...w.messages.map((m) => m.timestamp));
                return [w.key, await store.recentEvents(w.key, JOURNEY_HISTORY, since)] as const;
              }),
          ),
        ]);
        const reads = {
          applied,
          histories: new Map(histories),
          journeyHistories: new Map(journeyHistories),
          webhooks: new Map<string, WebhookOutcomes>(),
        };
        if (workspace?.journeys.callsWebhooks && options.callWebhook)
          await callWebhooksAhead(pending, profiles, reads, options.callWebhook);
        return reads;
      },
      decide: (w, profiles, at, reads) => {
        const decided = decide(w, profiles, at, reads, reads.webhooks.get(w.key));
        tallies.set(w, { applied: decided.applied, duplicates: decided.duplicates });
        return decided.decision;
      },
      landed: (w, decision) => {
        const tally = tallies.get(w);
        if (tally) {
          result.applied += tally.applied;
          result.duplicates += tally.duplicates;
        }
        if (decision && w.key.startsWith('a:')) visitorsToCheck.push(w.key.slice(2));
        // A visitor's call already applied: this may be a retry of a job that wrote the visitor's
        // profile and failed before folding it in, so the visitor is checked like one written now.
        if (tally && tally.duplicates > 0)
          for (const m of w.messages) if (m.anonymousId) visitorsToCheck.push(m.anonymousId);
        const absorbedKey = decision?.absorb?.key;
        const remaining = w.absorbs.filter((id) => profileKeyForAnonymous(id) !== absorbedKey);
        return absorbedKey && remaining.length > 0 ? [{ ...w, messages: [], absorbs: remaining }] : [];
      },
    },
    {
      ...(workspace ? { workspace } : {}),
      now,
      lateGraceMs: options.lateGraceMs,
      ...(options.scheduleChecks ? { scheduleChecks: options.scheduleChecks } : {}),
    },
  );
  result.profiles += loop.written;
  result.retries += loop.retries;
  return { visitorsToCheck };
}
