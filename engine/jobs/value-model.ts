import { parseDurationMs } from '../../rules/durations.ts';
import { type BuyerFigures, scoreBuyers } from '../../segments/value-model.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Logger } from '../../ports/logger.ts';
import { HISTORY_LIMIT, type Store } from '../../ports/store.ts';
import { decideValueModel } from '../../decide/value-model.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import { commitDecisions } from '../commit/commit-loop.ts';
import type { Profile } from '../../model/profile.ts';
import type { RegisterJob } from './context.ts';

export const VALUE_MODEL_QUEUE = 'value-model';
export const VALUE_MODEL_JOB = 'run';
/** The repeatable schedule's id: one per workspace. */
export const VALUE_MODEL_SCHEDULE = 'value-model';

const PAGE = 500;
async function forEachProfile(store: Store, visit: (profile: Profile) => Promise<void>): Promise<void> {
  let cursor: string | null = null;
  do {
    const page = await store.scanProfiles(cursor, PAGE);
    for (const profile of page.profiles) await visit(profile);
    cursor = page.cursor;
  } while (cursor !== null);
}

/**
 * Recomputes value tiers and RFM scores for every user: a first pass reads each
 * profile's orders in the window, a second writes traits (rfm_r, rfm_f, rfm_m, rfm_group,
 * value_tier) and tags (value:<tier>, rfm:<group>).
 */
export async function runValueModel(
  store: Store,
  workspace: Workspace,
  now: number,
  options: { logger: Logger; scheduleChecks: ScheduleChecks },
): Promise<{ buyers: number; scanned: number; changed: number }> {
  const { logger, scheduleChecks } = options;
  const config = workspace.valueModel;
  if (!config) return { buyers: 0, scanned: 0, changed: 0 };
  const since = now - (parseDurationMs(config.window) ?? 0);
  const figures: BuyerFigures[] = [];
  let scanned = 0;
  await forEachProfile(store, async (profile) => {
    scanned++;
    const orders = (await store.recentEvents(profile.key, HISTORY_LIMIT)).filter(
      (e) =>
        e.type !== 'internal' && e.event === config.orderEvent && e.timestamp >= since && e.timestamp <= now,
    );
    if (orders.length === 0) return;
    const amounts = orders.map((o) => o.properties?.[config.amountProperty]);
    figures.push({
      key: profile.key,
      recency: now - Math.max(...orders.map((o) => o.timestamp)),
      frequency: orders.length,
      monetary: amounts.reduce<number>(
        (sum, a) => sum + (typeof a === 'number' && Number.isFinite(a) ? a : 0),
        0,
      ),
    });
  });
  const scores = scoreBuyers(figures);
  const run = new Date(now).toISOString();
  let changed = 0;
  await forEachProfile(store, async (first) => {
    const { written } = await commitDecisions(
      store,
      [{ key: first.key }],
      {
        decide: ({ key }, profiles, at) => {
          const profile = profiles.get(key);
          return profile ? decideValueModel(profile, scores.get(key), run, { workspace, now: at }) : null;
        },
      },
      { workspace, now: () => now, scheduleChecks, firstRead: new Map([[first.key, first]]) },
    );
    changed += written;
  });
  logger.info({ buyers: figures.length, scanned, changed }, `value model: ${figures.length} buyers scored`);
  return { buyers: figures.length, scanned, changed };
}

/** The value model's scheduled runs. */
export const registerValueModelJob: RegisterJob = ({
  scheduler,
  store,
  logger,
  now,
  workspace,
  refreshWorkspace,
  scheduleChecks,
}) =>
  scheduler.process(
    VALUE_MODEL_QUEUE,
    async () => {
      await refreshWorkspace();
      await runValueModel(store, workspace(), now(), { logger, scheduleChecks });
    },
    { concurrency: 1 },
  );
