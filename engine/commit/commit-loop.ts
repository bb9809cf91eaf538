import { commitCounts } from '../../decide/pipeline.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { StoredEvent } from '../../model/events.ts';
import type { Store } from '../../ports/store.ts';
import { planCheck, type ScheduleChecks } from '../jobs/checks.ts';
import type { Profile } from '../../model/profile.ts';

const MAX_ATTEMPTS = 20;

/**
 * One decision on one user outside the ingest path (a recompute, a scheduled run, a journey state
 * change): read, decide on a copy, plan the user's timer, compare-and-set; on a version conflict,
 * decide again on what the other writer left. `decide` returns the events to store (none and no
 * other change: nothing is written). True when something was committed.
 */
export async function updateProfile(
  store: Store,
  key: string,
  options: { workspace: Workspace; now: () => number; scheduleChecks: ScheduleChecks },
  decide: (profile: Profile, now: number) => StoredEvent[],
): Promise<StoredEvent[] | null> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = (await store.getProfiles([key])).get(key);
    if (!current) return null;
    const now = options.now();
    // A fresh copy per read (the store's contract): decided on in place, what it was is kept here.
    const profile = current;
    const { version, materialisedFor, checkAt } = current;
    const events = decide(profile, now);
    const check = planCheck(profile, now, options.workspace);
    const unchanged =
      events.length === 0 &&
      profile.materialisedFor === materialisedFor &&
      (profile.checkAt ?? null) === (checkAt ?? null);
    if (unchanged) return null;
    if (check) await options.scheduleChecks([check]);
    profile.version = version + 1;
    const counts = commitCounts(profile, events, now, options.workspace);
    const { conflicts } = await store.commit([
      { key, expectedVersion: version, profile, events, messageIds: [], counts },
    ]);
    if (conflicts.length === 0) return events;
  }
  throw new Error(`gave up updating ${key} after ${MAX_ATTEMPTS} version conflicts`);
}
