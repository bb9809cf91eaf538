import { parseDurationMs } from '../../rules/durations.ts';
import { type BuyerFigures, scoreBuyers } from '../../segments/value-model.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Logger } from '../../ports/logger.ts';
import { HISTORY_LIMIT, type Store } from '../../ports/store.ts';
import { decideValueModel } from '../../decide/value-model.ts';
import type { ScheduleChecks } from '../../workspace/timers.ts';
import { commitProfile } from '../commit/commit-loop.ts';
import { profilePages } from './scan.ts';
import { processOnLiveWorkspace, type RegisterJob } from './context.ts';

export const VALUE_MODEL_QUEUE = 'value-model';
export const VALUE_MODEL_JOB = 'run';
/** The repeatable schedule's id: one per workspace. */
export const VALUE_MODEL_SCHEDULE = 'value-model';

/**
 * Recomputes value tiers and RFM scores for every user: a first pass reads each
 * profile's orders in the window, a second writes traits (rfm_r, rfm_f, rfm_m, rfm_group,
 * value_tier) and tags (value:<tier>, rfm:<group>).
 */
export async function runValueModel(
  store: Store,
  workspace: Workspace,
  now: number,
  options: { logger: Logger; scheduleChecks: ScheduleChecks; lateGraceMs: number },
): Promise<{ buyers: number; scanned: number; changed: number }> {
  const { logger, scheduleChecks, lateGraceMs } = options;
  const config = workspace.valueModel;
  if (!config) return { buyers: 0, scanned: 0, changed: 0 };
  const since = now - (parseDurationMs(config.window) ?? 0);
  const figures: BuyerFigures[] = [];
  let scanned = 0;
  for await (const page of profilePages(store))
    for (const profile of page) {
      scanned++;
      const orders = (await store.recentEvents(profile.key, HISTORY_LIMIT)).filter(
        (e) =>
          e.type !== 'internal' &&
          e.event === config.orderEvent &&
          e.timestamp >= since &&
          e.timestamp <= now,
      );
      if (orders.length === 0) continue;
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
    }
  const scores = scoreBuyers(figures);
  const run = new Date(now).toISOString();
  let changed = 0;
  for await (const page of profilePages(store)) {
    for (const first of page) {
      const decision = await commitProfile(
        store,
        first.key,
        (profile, at) => decideValueModel(profile, scores.get(profile.key), run, { workspace, now: at }),
        { workspace, now: () => now, lateGraceMs, scheduleChecks, firstRead: new Map([[first.key, first]]) },
      );
      if (decision) changed++;
    }
  }
  logger.info({ buyers: figures.length, scanned, changed }, `value model: ${figures.length} buyers scored`);
  return { buyers: figures.length, scanned, changed };
}

/** The value model's scheduled runs. */
export const registerValueModelJob: RegisterJob = (context) =>
  processOnLiveWorkspace(context, VALUE_MODEL_QUEUE, async (_, workspace) => {
    await runValueModel(context.store, workspace, context.now(), context);
  });
