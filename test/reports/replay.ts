/**
 * A workspace folder and a stream replayed on a virtual clock (arrival order = file order, the clock
 * following the newest timestamp), or back-filled in one request after its last message (with a late
 * grace that covers it), with the real API app over HTTP on the same store for the answers.
 */
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createApp } from '../../api/app.ts';
import { KeyRing } from '../../api/auth.ts';
import { readWorkspace } from '../../cli/workspace.ts';
import { MemoryDefinitionStore } from '../../engine/adapters/definitions/memory.ts';
import { silentLogger } from '../../ports/logger.ts';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import { KEYS } from '../../dev/engine.ts';
import { journeyEngine } from '../journeys/helpers.ts';
import type { TemplateDefinition } from '../../templates/template.ts';

export type Message = Record<string, unknown> & { timestamp: string };

export const readStream = (file: string): Message[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Message);

export async function replayFolder(
  folder: string,
  messages: readonly Message[],
  until: number,
  how: 'replay' | 'backfill' = 'replay',
) {
  const { docs } = await readWorkspace(folder);
  const definitions = {
    journeys: (docs.get('journey') ?? []) as unknown as JourneyDefinition[],
    templates: (docs.get('template') ?? []) as unknown as TemplateDefinition[],
  };
  const first = Date.parse(messages[0].timestamp);
  const e = await journeyEngine(definitions, first, how === 'backfill' ? { lateGraceMs: until - first } : {});
  if (how === 'backfill') {
    const last = Math.max(...messages.map((m) => Date.parse(m.timestamp)));
    await e.clock.advanceTo(last + 60_000);
    await e.send([...messages]);
  } else
    for (const m of messages) {
      await e.clock.advanceTo(Math.max(e.clock.now(), Date.parse(m.timestamp)));
      await e.send([m]);
    }
  await e.clock.advanceTo(until);
  const app = createApp({
    keys: new KeyRing([{ key: KEYS.read, scopes: ['read'] }]),
    store: e.store,
    definitions: new MemoryDefinitionStore(),
    onPublished: async () => null,
    workspace: e.workspace,
    scheduler: e.scheduler,
    ingestor: { accept: async () => {} },
    logger: silentLogger,
    now: () => e.clock.now(),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    engine: e,
    async get(path: string, accept = 'application/json') {
      const res = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${KEYS.read}`, accept },
      });
      const text = await res.text();
      return { status: res.status, type: res.headers.get('content-type') ?? '', text };
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await e.close();
    },
  };
}

/** The committed report fixture (fixtures/reports), replayed to the day after its range. */
export const REPORT_FIXTURE = 'fixtures/reports';
export const replayReportFixture = (how: 'replay' | 'backfill' = 'replay') =>
  replayFolder(
    `${REPORT_FIXTURE}/workspace`,
    readStream(`${REPORT_FIXTURE}/events.ndjson`),
    Date.parse('2026-03-13T00:00:00Z'),
    how,
  );
