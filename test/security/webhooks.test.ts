import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../cli/config.ts';
import { webhookCaller } from '../../engine/adapters/webhooks/http.ts';

describe('webhook steps reach no internal address unless allowed', () => {
  let port = 0;
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  const call = (caller: ReturnType<typeof webhookCaller>, url: string) =>
    caller({ url, headers: {}, body: { userId: 'u1' }, timeoutMs: 2000 });

  it('refuses metadata, loopback (by address and by name), private, link-local and mapped addresses', async () => {
    const guarded = webhookCaller();
    for (const url of [
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      `http://127.0.0.1:${port}/crm`,
      `http://localhost:${port}/crm`,
      `http://[::1]:${port}/crm`,
      `http://[::ffff:127.0.0.1]:${port}/crm`,
      'http://10.1.2.3/x',
      'http://192.168.1.1/x',
      'http://172.20.0.1/x',
      'http://0.0.0.0/x',
      'http://[fd00:ec2::254]/latest/meta-data/',
    ]) {
      const outcome = await call(guarded, url);
      assert.equal(outcome.ok, false, url);
      assert.equal(outcome.status, null, url);
      assert.match(outcome.error ?? '', /internal address/, url);
    }
    assert.equal(calls, 0, 'nothing reached the loopback receiver');
  });

  it('reaches loopback when it is allowed explicitly, by address and by name', async () => {
    const allowed = webhookCaller({ allow: ['127.0.0.0/8'] });
    const byAddress = await call(allowed, `http://127.0.0.1:${port}/crm`);
    assert.deepEqual([byAddress.ok, byAddress.status, byAddress.body], [true, 200, { ok: true }]);
    // By name: checked after resolution (both loopback families allowed, whichever comes first).
    const both = webhookCaller({ allow: ['127.0.0.0/8', '::1'] });
    const byName = await call(both, `http://localhost:${port}/crm`);
    assert.equal(byName.ok || /ECONNREFUSED ::1/.test(byName.error ?? ''), true, JSON.stringify(byName));
    const before = calls;
    assert.equal((await call(webhookCaller({ allow: ['::1'] }), `http://localhost:${port}/crm`)).ok, false);
    assert.equal(calls, before, 'a name resolving to a refused address is not called');
    assert.equal((await call(allowed, 'http://169.254.169.254/')).ok, false, 'other ranges stay refused');
  });

  it('reads TIDELINE_WEBHOOK_ALLOW, and refuses an entry that is not an address or range', () => {
    assert.deepEqual(
      loadConfig('embedded', { TIDELINE_WEBHOOK_ALLOW: '127.0.0.1, 10.0.0.0/8' }).webhookAllow,
      ['127.0.0.1', '10.0.0.0/8'],
    );
    assert.throws(
      () => loadConfig('embedded', { TIDELINE_WEBHOOK_ALLOW: 'intranet' }),
      (e: unknown) =>
        e instanceof ConfigError && /TIDELINE_WEBHOOK_ALLOW: 'intranet' is not an IP address/.test(e.message),
    );
  });
});
