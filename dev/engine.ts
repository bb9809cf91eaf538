import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, DEV_KEYS, loadConfig } from '../cli/config.ts';
import { type Roles, type RunningEngine, startEngine } from '../cli/engine.ts';
import { createLogger } from '../cli/log.ts';
import { INGEST_QUEUE } from '../engine/ingest/ingest-queue.ts';
import { RECOMPUTE_QUEUE } from '../engine/jobs/recompute.ts';
import { IMPORT_QUEUE } from '../engine/jobs/import.ts';

export const KEYS = DEV_KEYS;

export interface TestEngine {
  engine: RunningEngine;
  config: Config;
  url: string;
  /** Resolves once every queued ingest job has been applied. */
  settle(timeoutMs?: number): Promise<void>;
  request(method: string, path: string, options?: RequestOptions): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface RequestOptions {
  /** API key sent as the HTTP Basic user name (Segment's form); null sends no Authorization header. */
  key?: string | null;
  body?: unknown;
  /** Sent as is instead of JSON-encoding `body`. */
  rawBody?: string;
}

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An engine on the embedded defaults (memory store, in-process queue) on a free port, unless overridden. */
export async function startTestEngine(
  overrides: Partial<Config> = {},
  roles: Roles = { api: true, worker: true },
): Promise<TestEngine> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tideline-test-'));
  const config: Config = {
    ...loadConfig('embedded', {}),
    port: 0,
    host: '127.0.0.1',
    demo: false,
    // An empty workspace unless a test names one (the embedded default is the demo's).
    workspaceDir: undefined,
    dataDir,
    ...overrides,
  };
  const engine = await startEngine(config, roles, createLogger('silent'));
  const url = engine.url ?? '';
  return {
    engine,
    config,
    url,
    settle: (timeoutMs = 10_000) =>
      waitFor(
        async () =>
          (await engine.scheduler.pending(INGEST_QUEUE)) === 0 &&
          (await engine.scheduler.pending(IMPORT_QUEUE)) === 0 &&
          (await engine.scheduler.pending(RECOMPUTE_QUEUE)) === 0,
        timeoutMs,
        'the ingest, import and recompute queues to drain',
      ),
    async request(method, path, options = {}) {
      const key =
        options.key === undefined
          ? method === 'GET'
            ? KEYS.read
            : method === 'DELETE'
              ? KEYS.admin
              : KEYS.write
          : options.key;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (key !== null) headers.authorization = `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
      const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async close() {
      await engine.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
