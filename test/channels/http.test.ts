import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { after, test } from 'node:test';
import { post } from '../../channels/http.ts';

const servers: Server[] = [];
after(() => servers.forEach((server) => server.listening && server.close()));

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const request = { headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 200 };
const outcome = async (url: string) => {
  const result = await post(url, request);
  return result.kind === 'answer' ? [result.kind, result.status] : [result.kind, result.code];
};

test('an answer: status, lower-case headers and the body text; the connection is kept for the next', async () => {
  let connections = 0;
  const server = createHttpServer((req, res) => {
    req.resume();
    res
      .writeHead(429, { 'Retry-After': '30' })
      .end(`${req.headers['content-type']} ${req.headers['content-length']}`);
  });
  server.on('connection', () => connections++);
  const port = await listen(server);
  for (let i = 0; i < 2; i++) {
    const answer = await post(`http://127.0.0.1:${port}/`, request);
    assert.equal(answer.kind, 'answer');
    if (answer.kind !== 'answer') return;
    assert.deepEqual(
      [answer.status, answer.headers['retry-after'], answer.text],
      [429, '30', 'application/json 2'],
    );
  }
  assert.equal(connections, 1);
});

test('unsent: refused, invalid URL, or timed out before TLS was up', async () => {
  const closed = createServer();
  const port = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
  assert.deepEqual(await outcome(`http://127.0.0.1:${port}/`), ['unsent', 'ECONNREFUSED']);
  assert.deepEqual(await outcome('not a url'), ['unsent', 'ERR_INVALID_URL']);
  const silent = await listen(createServer(() => {}));
  assert.deepEqual(await outcome(`https://127.0.0.1:${silent}/`), ['unsent', 'CONNECT_TIMEOUT']);
});

test('lost: no answer in time, or the connection closed after the request went out', async () => {
  const silent = await listen(createServer(() => {}));
  assert.deepEqual(await outcome(`http://127.0.0.1:${silent}/`), ['lost', 'TIMEOUT']);
  const hangUp = await listen(createServer((socket) => socket.once('data', () => socket.destroy())));
  assert.deepEqual(await outcome(`http://127.0.0.1:${hangUp}/`), ['lost', 'ECONNRESET']);
  const half = await listen(
    createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100' }).write('{"name":');
      setTimeout(() => res.destroy(), 10);
    }),
  );
  assert.deepEqual(await outcome(`http://127.0.0.1:${half}/`), ['lost', 'ECONNRESET']);
});
