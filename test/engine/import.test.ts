/**
 * History, however it is taken in: a user's 60 days posted one message at a time, as 30 requests, as
 * one request, or through the import mode give the same lifecycle moves at the same times, and none
 * that the user's own activity refutes. The demo sample imported and then followed by live events
 * gives the profiles the simulator gives, with no journey entry before the import's end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { publishWorkspaceFiles, workspaceFromStore } from '../../cli/workspace.ts';
import { MemoryDefinitionStore } from '../../engine/adapters/definitions/memory.ts';
import { replay } from '../../lifecycle/timeline.ts';
import { silentLogger } from '../../ports/logger.ts';
import { Workspace } from '../../workspace/workspace.ts';
import { readStream } from '../reports/replay.ts';
import {
  backFill,
  type Decided,
  deliver,
  type Delivery,
  imported,
  inRequests,
  loyaltyService,
  MEMORY_STORE,
  type Message,
  oneByOne,
  simulatorChunks,
  STREAM_START,
  userKeys,
} from '../helpers/arrival.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const GRACE = 365 * DAY;

let loyalty: Awaited<ReturnType<typeof loyaltyService>>;
before(async () => {
  loyalty = await loyaltyService();
});
after(() => loyalty.close());

async function run(deliveries: Delivery[], end: number, keys: string[], workspace?: Workspace) {
  const store = MEMORY_STORE();
  await store.init();
  try {
    return await deliver({
      store,
      deliveries,
      end,
      webhookUrl: loyalty.url,
      lateGraceMs: GRACE,
      keys,
      scheduled: false,
      ...(workspace ? { workspace } : {}),
    });
  } finally {
    await store.close();
  }
}

const parsed = (decided: Decided, key: string) =>
  decided.profiles[key].events.map((e) => JSON.parse(e) as Record<string, any>);

/** The user's announced lifecycle moves: from, to, when. */
const moves = (decided: Decided, key: string) =>
  parsed(decided, key)
    .filter((e) => e.event === 'lifecycle_changed')
    .map((e) => `${e.properties.from}>${e.properties.to}@${new Date(e.timestamp).toISOString()}`)
    .sort();

describe("a user's 60 days of history", () => {
  // Active for ten days, quiet for five weeks (dormant on the way), back for two weeks with orders.
  const stream: Message[] = [];
  let n = 0;
  const at = (day: number, hour: number) => new Date(STREAM_START + day * DAY + hour * HOUR).toISOString();
  const push = (m: Record<string, unknown>, day: number, hour: number) =>
    stream.push({ ...m, userId: 'lena', messageId: `lena-${n++}`, timestamp: at(day, hour) } as Message);
  push({ type: 'identify', traits: { email: 'lena@example.com', consent: { email: true } } }, 0, 9);
  for (let day = 0; day < 10; day++) push({ type: 'track', event: 'product_viewed' }, day, 10 + (day % 5));
  for (let day = 45; day < 60; day++) {
    push({ type: 'track', event: 'product_viewed' }, day, 11);
    if (day % 4 === 0)
      push({ type: 'track', event: 'order_paid', properties: { orderId: `o${day}`, amount: 80 } }, day, 12);
  }
  const last = Date.parse(stream.at(-1)!.timestamp);
  const end = last + HOUR;
  const keys = ['u:lena'];

  it('gives the same moves as the simulator, posted one by one, as 30 requests, as one, or imported', async () => {
    const simulator = await run(simulatorChunks(stream), end, keys);
    const expected = moves(simulator, 'u:lena');
    assert.ok(
      expected.some((m) => m.includes('>dormant@')),
      `a dormant move: ${expected.join(', ')}`,
    );
    assert.ok(
      expected.some((m) => m.startsWith('dormant>')),
      `a return: ${expected.join(', ')}`,
    );
    for (const [how, deliveries] of [
      ['one by one', oneByOne(stream)],
      ['30 requests', inRequests(stream, 30)],
      ['one request', backFill(stream)],
      ['imported', imported(stream, end)],
    ] as const) {
      const decided = await run([...deliveries], end, keys);
      assert.deepEqual(moves(decided, 'u:lena'), expected, how);
      // No move the user's own activity refutes: what was announced is what the activity implies.
      const implied = replay(
        (decided.profiles['u:lena'].state as Record<string, any>).activity,
        end,
        new Workspace().lifecycle,
      ).history.map((c) => `${c.from}>${c.to}@${new Date(c.at).toISOString()}`);
      assert.deepEqual(moves(decided, 'u:lena'), implied.sort(), `${how}: announced = implied`);
      if (how === 'imported') {
        const entries = parsed(decided, 'u:lena').filter((e) => e.event === 'journey_entered');
        assert.deepEqual(entries, [], 'an import enrols no one in the past');
        assert.ok(
          parsed(decided, 'u:lena')
            .filter((e) => e.event === 'lifecycle_changed')
            .every((e) => e.imported === true),
          'the moves of imported history say so',
        );
      }
    }
  });
});

describe('the demo sample, imported', () => {
  it('builds the profiles the simulator builds, then goes on live; no journey entry before its end', async () => {
    const definitions = new MemoryDefinitionStore();
    const folder = fileURLToPath(new URL('../../fixtures/workspace', import.meta.url));
    await publishWorkspaceFiles(folder, definitions, STREAM_START, silentLogger);
    const workspace = await workspaceFromStore(definitions, 'Asia/Shanghai');
    const sample = readStream(fileURLToPath(new URL('../../fixtures/sample-events.ndjson', import.meta.url)));
    // The sample moved to the stream's start (whole days, so times of day stay), in time order.
    const first = Math.min(...sample.map((m) => Date.parse(m.timestamp)));
    const shift = Math.floor((STREAM_START - first) / DAY) * DAY;
    const history = sample
      .map((m) => ({ ...m, timestamp: new Date(Date.parse(m.timestamp) + shift).toISOString() }) as Message)
      .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    const importEnd = Date.parse(history.at(-1)!.timestamp) + HOUR;
    // Live traffic after the import: some of the same users come back.
    const users = [...new Set(history.filter((m) => m.userId).map((m) => String(m.userId)))].slice(0, 40);
    const live = users.map(
      (userId, i) =>
        ({
          type: 'track',
          userId,
          event: 'product_viewed',
          properties: { category: 'apparel' },
          messageId: `live-${i}`,
          timestamp: new Date(importEnd + (i + 1) * 60_000).toISOString(),
        }) as Message,
    );
    const end = importEnd + 2 * HOUR;
    const keys = userKeys([...history, ...live]);
    const simulated = await run([...simulatorChunks(history), ...oneByOne(live)], end, keys, workspace);
    const viaImport = await run([...imported(history, importEnd), ...oneByOne(live)], end, keys, workspace);
    // What the events build; tags and traits that journey steps set come from journeys, which an
    // import does not run for the past.
    const steps = workspace.journeys.live.flatMap((j) => j.definition.steps);
    const journeyTags = new Set(
      steps.flatMap((st) => (st.type === 'tag' ? [...(st.add ?? []), ...(st.remove ?? [])] : [])),
    );
    const journeyTraits = new Set(
      steps.flatMap((st) =>
        st.type === 'update'
          ? Object.keys(st.traits)
          : st.type === 'webhook'
            ? Object.keys(st.setTraits ?? {})
            : [],
      ),
    );
    const built = (state: Record<string, any>) => ({
      traits: Object.fromEntries(Object.entries(state.traits).filter(([name]) => !journeyTraits.has(name))),
      tags: (state.tags as string[]).filter((t) => !journeyTags.has(t)),
      segments: state.segments,
      lifecycle: state.lifecycle,
      activity: state.activity,
    });
    let compared = 0;
    for (const key of keys) {
      const s = simulated.profiles[key];
      const i = viaImport.profiles[key];
      assert.equal(!!i, !!s, `${key} exists in both`);
      if (!s || !i) continue;
      assert.deepEqual(built(i.state), built(s.state), `${key}: traits, tags, segments, lifecycle`);
      compared++;
      const early = parsed(viaImport, key).filter(
        (e) => e.event === 'journey_entered' && e.timestamp <= importEnd,
      );
      assert.deepEqual(early, [], `${key}: no journey entry stamped before the import's end`);
    }
    assert.ok(compared > 100, `${compared} profiles compared`);
  });
});
