import type { Logger } from 'pino';
import {
  JOURNEY_SCHEDULE_JOB,
  JOURNEY_SCHEDULE_QUEUE,
  journeyScheduleId,
} from '../../engine/jobs/journey-schedule.ts';
import { SWEEPER_JOB, SWEEPER_QUEUE, SWEEPER_SCHEDULE } from '../../engine/jobs/sweeper.ts';
import { VALUE_MODEL_JOB, VALUE_MODEL_QUEUE, VALUE_MODEL_SCHEDULE } from '../../engine/jobs/value-model.ts';
import type { DefinitionStore } from '../../ports/definitions.ts';
import type { Scheduler } from '../../ports/scheduler.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Config } from '../config.ts';

/**
 * How often a worker sets the repeatable schedules again (the sweeper's, the value model's, the
 * scheduled journeys'): a Redis that lost its contents lost them too, and the sweeper is what recovers
 * the timers it lost.
 */
const REASSERT_MS = 5 * 60_000;

/** A worker's repeatable schedules, kept in step with the workspace (each an upsert: one for all workers). */
export interface Schedules {
  /** Sets every schedule from the workspace as it is now. */
  set(): Promise<void>;
  stop(): void;
}

export function keepSchedules(
  config: Config,
  scheduler: Scheduler,
  definitions: DefinitionStore,
  workspace: () => Workspace,
  logger: Logger,
): Schedules {
  const valueModel = async () => {
    const model = workspace().valueModel;
    if (model)
      await scheduler.repeat(VALUE_MODEL_QUEUE, VALUE_MODEL_SCHEDULE, model.schedule, VALUE_MODEL_JOB, {});
    else await scheduler.unrepeat(VALUE_MODEL_QUEUE, VALUE_MODEL_SCHEDULE);
  };
  // The sweeper re-adds overdue timers the queue lost.
  const sweeper = () =>
    scheduler.repeat(SWEEPER_QUEUE, SWEEPER_SCHEDULE, { cron: config.sweepCron, tz: 'UTC' }, SWEEPER_JOB, {});
  // Each live scheduled journey's firings; a journey no longer live or scheduled stops firing.
  const journeys = async () => {
    for (const { id } of await definitions.list('journey')) {
      const trigger = workspace().journeys.scheduled.get(id)?.definition.trigger;
      if (trigger?.type === 'schedule') {
        await scheduler.repeat(
          JOURNEY_SCHEDULE_QUEUE,
          journeyScheduleId(id),
          { cron: trigger.cron, tz: trigger.tz },
          JOURNEY_SCHEDULE_JOB,
          { journeyId: id },
        );
      } else await scheduler.unrepeat(JOURNEY_SCHEDULE_QUEUE, journeyScheduleId(id));
    }
  };
  const set = async () => {
    await valueModel();
    await sweeper();
    await journeys();
  };
  const timer =
    scheduler.kind === 'bullmq'
      ? setInterval(
          () =>
            void set().catch((error: unknown) =>
              logger.error({ err: error }, 'setting the repeatable schedules failed'),
            ),
          REASSERT_MS,
        )
      : undefined;
  timer?.unref();
  return { set, stop: () => clearInterval(timer) };
}
