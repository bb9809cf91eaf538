import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { loadConfig } from '../../cli/config.ts';
import { createLogger, maskEmail, maskPhone } from '../../cli/log.ts';

it('masks phone numbers and emails and removes secrets wherever they are logged', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('info', sink);
  logger.info(
    {
      phone: '+8613812345678',
      traits: { email: 'li.wei@example.com', city: 'Hangzhou' },
      authorization: 'Basic abc',
    },
    'hi',
  );
  logger.info({ user: { phone: '13812345678', email: 'x@example.org' }, writeKey: 'secret' }, 'nested');
  const out = lines.join('');
  for (const secret of ['13812345678', 'li.wei@', 'x@example.org', 'Basic abc', 'secret']) {
    assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
  }
  assert.match(out, /"phone":"\+86\*+5678"/);
  assert.match(out, /"email":"l\*\*\*@example\.com"/);
  assert.match(out, /"city":"Hangzhou"/);
  assert.equal(maskPhone('+86 138 1234 5678'), '+86*******5678');
  assert.equal(maskEmail('a@b.c'), 'a***@b.c');
});

it('reads every setting from the environment, with clear errors for bad values', () => {
  const embedded = loadConfig('embedded', {});
  assert.equal(embedded.store, 'memory');
  assert.equal(embedded.queue, 'in-process');
  assert.equal(embedded.port, 3000);
  assert.equal(embedded.dedupeHorizonMs, 30 * 86_400_000);
  assert.deepEqual(embedded.devKeys, ['TIDELINE_WRITE_KEY', 'TIDELINE_ADMIN_KEY', 'TIDELINE_READ_KEY']);
  const worker = loadConfig('worker', { MONGO_URL: 'mongodb://db/x', TIDELINE_WRITE_KEY: 'w' });
  assert.equal(worker.store, 'mongodb');
  assert.equal(worker.queue, 'bullmq');
  assert.equal(loadConfig('api', {}).store, 'redis');
  assert.throws(() => loadConfig('api', { TIDELINE_STORE: 'memory' }), /shares work/);
  assert.throws(
    () => loadConfig('embedded', { TIDELINE_LATE_GRACE: 'one day' }),
    /TIDELINE_LATE_GRACE=one day is not an ISO 8601 duration/,
  );
  assert.throws(() => loadConfig('embedded', { PORT: 'eighty' }), /PORT=eighty must be an integer/);
});
