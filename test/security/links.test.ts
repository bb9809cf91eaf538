import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { it } from 'node:test';
import { LinkSigner } from '../../channels/links.ts';

const signer = new LinkSigner('https://t.example.com', 'link-secret-for-tests-0123456789');
const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

it('links carry no readable user id, address or target, and open only with the secret', () => {
  const link = {
    profileKey: 'u:ann-4711',
    channel: 'email' as const,
    address: 'ann@example.com',
    messageId: 'm1',
  };
  const unsubscribe = tokenOf(signer.unsubscribeUrl(link));
  const click = tokenOf(
    signer.clickUrl({ messageId: 'm1', url: 'https://shop.example.com/cart?u=13800138000' }),
  );
  for (const token of [unsubscribe, click]) {
    const seen = `${token}\n${Buffer.from(token, 'base64url').toString('latin1')}`;
    for (const secret of ['ann-4711', 'ann@example.com', '13800138000', 'shop.example.com'])
      assert.ok(!seen.includes(secret), `${secret} readable in a token`);
  }
  assert.deepEqual(signer.unsubscribe(unsubscribe), link);
  assert.deepEqual(signer.click(click), {
    messageId: 'm1',
    url: 'https://shop.example.com/cart?u=13800138000',
  });
  // Neither kind opens as the other, nor with another secret, nor altered.
  assert.equal(signer.unsubscribe(click), null);
  assert.equal(signer.click(unsubscribe), null);
  assert.equal(
    new LinkSigner('https://t.example.com', 'another-secret-0123456789').unsubscribe(unsubscribe),
    null,
  );
  const raw = Buffer.from(unsubscribe, 'base64url');
  raw[20] ^= 1;
  assert.equal(signer.unsubscribe(raw.toString('base64url')), null);
  assert.equal(signer.unsubscribe(`${unsubscribe}=`), null);
});

it('links sent before (readable body and HMAC) still open', () => {
  const body = Buffer.from(JSON.stringify({ k: 'u:bo', c: 'sms', a: '13800138001' })).toString('base64url');
  const mac = createHmac('sha256', 'link-secret-for-tests-0123456789').update(body).digest().subarray(0, 16);
  assert.deepEqual(signer.unsubscribe(`${body}.${mac.toString('base64url')}`), {
    profileKey: 'u:bo',
    channel: 'sms',
    address: '13800138001',
  });
});
