import type { RedisChannelState } from './adapters/channel-state/redis.ts';
import type { RedisClient } from './adapters/redis-connection.ts';
import type { RedisStore } from './adapters/stores/redis.ts';
import type { StoredEvent } from '../model/events.ts';
import { DEFINITION_KINDS, type DefinitionStore, type DefinitionVersion } from '../ports/definitions.ts';
import { dueAt, type ProfileCommit } from '../ports/store.ts';
import type { ScheduleChecks } from '../workspace/timers.ts';

/*
 * Moving a Redis deployment to another key layout (one Redis to a cluster's buckets): every step reads
 * the source through its adapters and writes the target through its own, so each side keeps its layout.
 * Every step is idempotent: a profile is created on the target with a compare-and-set from nothing (one
 * already there is left as it is), counters are added under a receipt, definitions are brought to the
 * source's state one status change at a time, channel state is merged. A run that stops anywhere is
 * finished by the next one, which starts at the last page of profiles the checkpoint names.
 */

/** One side of the move. */
export interface Deployment {
  store: RedisStore;
  definitions: DefinitionStore;
  channelState: RedisChannelState;
}

export interface MoveOptions {
  source: Deployment;
  target: Deployment & {
    /** Queues the moved users' timers on the target's queues (the workers' own way: `timerQueue`). */
    scheduleChecks: ScheduleChecks;
    /** Where the checkpoint is kept. */
    redis: RedisClient;
    checkpointKey: string;
  };
  /** Profiles per page (default 200). */
  page?: number;
  onProgress?: (progress: MoveProgress) => void | Promise<void>;
}

export type MovePhase = 'definitions' | 'channel state' | 'profiles' | 'report counters';

export interface MoveProgress {
  phase: MovePhase;
  /** Profiles looked at so far (with those of the run this one resumes). */
  profiles: number;
}

export interface MoveSummary {
  /** Where the profiles were resumed from: null when the run started at the beginning. */
  resumed: string | null;
  /** Definition versions created or brought to the source's status. */
  definitionSteps: number;
  channelKeys: number;
  /** Profiles created on the target by this run. */
  profiles: number;
  /** Profiles the target had already (an earlier run's), left as they are. */
  alreadyThere: number;
  events: number;
  /** Dedupe markers carried with the events (messages still within the dedupe horizon). */
  markers: number;
  aliases: number;
  timers: number;
  /** Report counter scopes, and how many parts of them this run added (the others were there). */
  counterScopes: number;
  counterParts: number;
}

/** Counter fields per addition (a journey's day can hold hundreds of thousands). */
const COUNTER_CHUNK = 5000;
/** Every event a profile still keeps. */
const ALL_EVENTS = Number.MAX_SAFE_INTEGER;

export async function moveDeployment(options: MoveOptions): Promise<MoveSummary> {
  const { source, target } = options;
  const pageSize = options.page ?? 200;
  const checkpoint = await target.redis.hgetall(target.checkpointKey);
  // A run that finished leaves `done`: the next one goes through everything again and finds it there.
  const resumed = checkpoint.done ? null : (checkpoint.cursor ?? null);
  let looked = resumed === null ? 0 : Number(checkpoint.profiles ?? 0);
  const summary: MoveSummary = {
    resumed,
    definitionSteps: 0,
    channelKeys: 0,
    profiles: 0,
    alreadyThere: 0,
    events: 0,
    markers: 0,
    aliases: 0,
    timers: 0,
    counterScopes: 0,
    counterParts: 0,
  };
  const report = async (phase: MovePhase) => options.onProgress?.({ phase, profiles: looked });
  await target.redis.hdel(target.checkpointKey, 'done');

  await report('definitions');
  summary.definitionSteps = await copyDefinitions(source.definitions, target.definitions);

  await report('channel state');
  summary.channelKeys = await source.channelState.copyTo(target.channelState);

  let cursor = resumed;
  do {
    const page = await source.store.scanProfiles(cursor, pageSize);
    const there = await target.store.getProfiles(page.profiles.map((p) => p.key));
    const moving = page.profiles.filter((p) => !there.has(p.key));
    summary.alreadyThere += page.profiles.length - moving.length;
    const histories = await Promise.all(moving.map((p) => source.store.recentEvents(p.key, ALL_EVENTS)));
    const remembered = await source.store.appliedMessageIds(
      histories.flatMap((events) => events.map((e) => e.messageId)),
    );
    // Aliases are linked before the profile they lead to is written, as ingestion does.
    const anonymousIds = moving.flatMap((p) => (p.userId === null ? [] : p.anonymousIds));
    for (const [anonymousId, userId] of await source.store.getAliases(anonymousIds)) {
      await target.store.linkAlias(anonymousId, userId);
      summary.aliases++;
    }
    // Timers are queued before the commit that records them, as the commit loop does.
    const checks = moving.flatMap((p) => {
      const at = dueAt(p);
      return at === null ? [] : [{ key: p.key, at }];
    });
    if (checks.length > 0) await target.scheduleChecks(checks);
    summary.timers += checks.length;
    const commits = moving.map((profile, i) => profileCommit(profile, histories[i], remembered));
    const { conflicts } = commits.length > 0 ? await target.store.commit(commits) : { conflicts: [] };
    // A conflict is a profile written on the target since it was read there: it is left as it is.
    const landed = commits.filter((c) => !conflicts.includes(c.key));
    summary.profiles += landed.length;
    summary.alreadyThere += conflicts.length;
    for (const c of landed) {
      summary.events += c.events.length;
      summary.markers += c.messageIds.length;
    }
    looked += page.profiles.length;
    cursor = page.cursor;
    if (cursor !== null) await target.redis.hset(target.checkpointKey, { cursor, profiles: String(looked) });
    await report('profiles');
  } while (cursor !== null);

  await report('report counters');
  const scopes = await source.store.counterScopes();
  summary.counterScopes = scopes.length;
  for (const scope of scopes) {
    const counters = [...(await source.store.readCounters(scope))].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    for (let part = 0; part * COUNTER_CHUNK < counters.length; part++) {
      const chunk = counters.slice(part * COUNTER_CHUNK, (part + 1) * COUNTER_CHUNK);
      if (await target.store.addCountersOnce(scope, chunk, `migrate:${part}:${scope}`))
        summary.counterParts++;
    }
  }

  await target.redis.hset(target.checkpointKey, { done: String(Date.now()), profiles: String(looked) });
  await target.redis.hdel(target.checkpointKey, 'cursor');
  return summary;
}

/**
 * A profile as it is created on the target: from nothing (its commit counter starts again at 1), with
 * its history and the markers of the messages still remembered.
 */
function profileCommit(
  profile: ProfileCommit['profile'],
  events: StoredEvent[],
  remembered: ReadonlySet<string>,
): ProfileCommit {
  const ids = [...new Set(events.map((e) => e.messageId))].filter((id) => remembered.has(id));
  return {
    key: profile.key,
    expectedVersion: 0,
    profile: { ...profile, version: 1 },
    events,
    messageIds: ids,
  };
}

/**
 * Every definition version, in order, brought to the source's state on the target with the port's own
 * steps (saved, saved again, published, archived) at the source's times. A version the target has in
 * another state than one of those steps leads to (a target written to on its own) is an error.
 */
async function copyDefinitions(from: DefinitionStore, to: DefinitionStore): Promise<number> {
  let steps = 0;
  for (const kind of DEFINITION_KINDS) {
    for (const { id } of await from.list(kind)) {
      const have = await to.history(kind, id);
      for (const wanted of await from.history(kind, id)) {
        steps += await bringVersion(to, wanted, have[wanted.version - 1] ?? null);
      }
    }
  }
  return steps;
}

/** Takes the target's version (null: none yet) to the source's state; answers how many steps it took. */
async function bringVersion(
  to: DefinitionStore,
  wanted: DefinitionVersion,
  have: DefinitionVersion | null,
): Promise<number> {
  const { kind, id, version, document } = wanted;
  let steps = 0;
  let current = have;
  if (current === null) {
    current = await to.saveDraft(kind, id, document, wanted.createdAt);
    steps++;
  }
  if (current.version !== version)
    throw new Error(`${kind} ${id}: the target has versions the source has not (version ${current.version})`);
  if (current.status === 'draft' && current.updatedAt !== wanted.updatedAt) {
    current = await to.saveDraft(kind, id, document, wanted.updatedAt);
    steps++;
  }
  if (current.status === 'draft' && wanted.publishedAt !== null) {
    current = await to.publish(kind, id, version, wanted.publishedAt);
    steps++;
  }
  if (current.status !== 'archived' && wanted.status === 'archived' && wanted.archivedAt !== null) {
    current = await to.archive(kind, id, version, wanted.archivedAt);
    steps++;
  }
  if (current.status !== wanted.status)
    throw new Error(
      `${kind} ${id} version ${version} is ${current.status} on the target and ${wanted.status} on the source`,
    );
  return steps;
}
