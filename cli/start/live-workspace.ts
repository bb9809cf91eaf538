import type { Logger } from 'pino';
import type { DefinitionStore } from '../../ports/definitions.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Config } from '../config.ts';
import { liveFingerprint, publishWorkspaceFiles, workspaceFromStore } from '../workspace.ts';

/** The live workspace of a process: compiled from the definitions store, recompiled when it changes. */
export interface LiveWorkspace {
  current(): Workspace;
  /** Names what is live (a recompute job is named after it). */
  fingerprint(): string;
  /** Recompiles if something was published or archived since; true when it did. */
  refresh(): Promise<boolean>;
  /** Stops looking for publications made through other processes. */
  stop(): void;
}

/**
 * Publishes the configured workspace folder's changed files, compiles what is live, and picks up
 * publications made through another process's API within the refresh interval.
 */
export async function openLiveWorkspace(
  config: Config,
  definitions: DefinitionStore,
  logger: Logger,
  onChange: () => Promise<void>,
): Promise<LiveWorkspace> {
  if (config.workspaceDir) await publishWorkspaceFiles(config.workspaceDir, definitions, Date.now(), logger);
  const compile = () => workspaceFromStore(definitions, config.timezone, config.globalControlPercent);
  let workspace = await compile();
  let fingerprint = await liveFingerprint(definitions);
  const describe = () =>
    logger.info(
      {
        segments: workspace.segments.length,
        tagRules: workspace.tagRules.length,
        aggregates: workspace.aggregates.length,
        journeys: workspace.journeys.size,
      },
      `workspace: ${workspace.segments.length} segments, ${workspace.tagRules.length} tag rules, ${workspace.journeys.size} journeys`,
    );
  describe();
  const refresh = async () => {
    const live = await liveFingerprint(definitions);
    if (live === fingerprint) return false;
    workspace = await compile();
    fingerprint = live;
    describe();
    await onChange();
    return true;
  };
  const timer = setInterval(() => {
    refresh().catch((error: unknown) => logger.error({ err: error }, 'workspace refresh failed'));
  }, config.workspaceRefreshMs);
  timer.unref();
  return {
    current: () => workspace,
    fingerprint: () => fingerprint,
    refresh,
    stop: () => clearInterval(timer),
  };
}
