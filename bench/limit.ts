/**
 * bench/limit: the parse-and-answer limit, the yardstick the ingest and journeys benches measure
 * Tideline against in the same run. A server that reads each batch, JSON.parses it and answers 200
 * `{"success":true}` (what Tideline answers) is the most any Node HTTP ingest can do on this machine
 * at this moment; Tideline's events/s divided by it is a share that means the same on a slow and a
 * fast day. The server runs in a process of its own, as Tideline does, and is driven by the same
 * client (`post`) on the same bodies.
 *
 * Run alone, it is that server: `node --import tsx bench/limit.ts node|express` prints its URL.
 *   node:    node:http, the body read into one buffer and JSON.parse'd;
 *   express: express + express.json (Tideline's own parser, same size limit), for comparison.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { PROCESS_KEYS } from '../dev/processes.ts';
import { generateStream } from '../fixtures/generate.ts';
import { MAX_BATCH_BYTES } from '../engine/ingest/parse.ts';
import { processCpuSeconds } from './stats.ts';

export type LimitServer = 'node' | 'express';

/** The generated stream's first n messages as Segment batch bodies of 100, serialised up front. */
export function stream(n: number): { bodies: string[]; total: number } {
  const messages: unknown[] = [];
  // About 24 messages per user over 30 days: ask for enough users to fill n.
  for (const m of generateStream({
    users: Math.ceil(n / 15),
    days: 30,
    seed: 'bench',
    start: '2026-10-01',
  })) {
    messages.push(m);
    if (messages.length === n) break;
  }
  const bodies: string[] = [];
  for (let i = 0; i < messages.length; i += 100)
    bodies.push(JSON.stringify({ batch: messages.slice(i, i + 100) }));
  return { bodies, total: messages.length };
}

/** Posts the bodies to `/v1/batch` over keep-alive HTTP from `parallel` concurrent clients. */
export async function post(url: string, bodies: string[], parallel = 8): Promise<void> {
  const headers = {
    'content-type': 'application/json',
    authorization: `Basic ${Buffer.from(`${PROCESS_KEYS.write}:`).toString('base64')}`,
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < bodies.length) {
        const res = await fetch(`${url}/v1/batch`, { method: 'POST', headers, body: bodies[next++] });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      }
    }),
  );
}

export interface LimitFigures {
  /** Events per second, until the last 200. */
  perSecond: number;
  /** CPU the server process spent per event (µs). */
  cpuUs: number;
}

const SELF = fileURLToPath(import.meta.url);

/** Starts the `kind` server in a child process, posts the bodies to it and stops it. */
export async function measureLimit(
  kind: LimitServer,
  { bodies, total }: { bodies: string[]; total: number },
): Promise<LimitFigures> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /^(http:\/\/\S+)\n/.exec(out);
        if (match) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`bench/limit.ts ${kind} exited with ${code}`)));
    });
    // Warmed first, server and client alike (the bench's first requests of a run are otherwise
    // this server's, and a cold client made the limit read slower than express behind it).
    await post(url, bodies.slice(0, WARM_UP_BODIES));
    const cpuBefore = processCpuSeconds(child.pid);
    const t0 = performance.now();
    await post(url, bodies);
    const seconds = (performance.now() - t0) / 1000;
    const cpuUs = ((processCpuSeconds(child.pid) - cpuBefore) * 1e6) / total;
    return { perSecond: total / seconds, cpuUs };
  } finally {
    child.kill();
    await exited;
  }
}

const ANSWER = JSON.stringify({ success: true });
/** Requests posted untimed before a limit is measured. */
const WARM_UP_BODIES = 100;

function nodeServer() {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(ANSWER);
    });
  });
}

function expressServer() {
  const app = express();
  app.post('/v1/batch', express.json({ limit: MAX_BATCH_BYTES, type: () => true }), (_req, res) => {
    res.json({ success: true });
  });
  return createServer(app);
}

if (process.argv[1] === SELF) {
  const kind = process.argv[2];
  if (kind !== 'node' && kind !== 'express') throw new Error('usage: bench/limit.ts node|express');
  const server = kind === 'node' ? nodeServer() : expressServer();
  // Tideline's keep-alive timeout, so the clients reuse their connections alike.
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    process.stdout.write(`http://127.0.0.1:${address.port}\n`);
  });
}
