import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { NodemailerError, SMTPPoolSentMessageInfo } from 'nodemailer';
import type { Delivery, EmailMessage } from '../../channels/provider.ts';
import { classifyError, classifySent, redact } from '../../channels/smtp/classify.ts';
import { emailMessageId } from '../../channels/smtp/message.ts';
import { SmtpProvider, type SmtpProviderOptions } from '../../channels/smtp/provider.ts';
import { type FakeSmtp, type ReceivedMail, startSmtpServer } from '../../dev/fakes/smtp.ts';
import { freePort } from '../../dev/processes.ts';

const FROM = 'Tideline News <news@tideline.test>';
const UNSUBSCRIBE_URL = 'https://tideline.test/u/one-click?t=abc123';
const UNSUBSCRIBE_MAILTO = 'mailto:unsubscribe@tideline.test?subject=unsubscribe';
const MINUTES = 60_000;

let seq = 0;
function delivery(address: string, message: Partial<EmailMessage> = {}, messageId = `m-${++seq}`) {
  return {
    messageId,
    address,
    message: {
      from: FROM,
      subject: 'Spring sale',
      html: '<p>Hello <b>you</b></p>',
      text: 'Hello you',
      ...message,
    },
    firstAttemptAt: Date.now(),
  } satisfies Delivery<string, EmailMessage>;
}

function provider(server: FakeSmtp, options: Partial<SmtpProviderOptions> = {}): SmtpProvider {
  return new SmtpProvider({
    host: server.host,
    port: server.port,
    ignoreTLS: true,
    auth: { user: 'u', pass: 'p' },
    socketTimeout: 2000,
    ...options,
  });
}

/** The unfolded value of each occurrence of a header field, as it arrived. */
function rawHeader(received: ReceivedMail, name: string): string[] {
  return received.mail.headerLines
    .filter((h) => h.key === name.toLowerCase())
    .map((h) =>
      h.line
        .replace(/\r?\n[ \t]/g, ' ')
        .slice(name.length + 1)
        .trim(),
    );
}

describe('delivery on a healthy server', () => {
  let server: FakeSmtp;
  let smtp: SmtpProvider;
  before(async () => {
    server = await startSmtpServer();
    smtp = provider(server);
  });
  after(async () => {
    await smtp.close();
    await server.close();
  });

  test('subject, html and text arrive; providerId is the server reply', async () => {
    const result = await smtp.send(delivery('ada@example.com'));
    assert.equal(result.class, 'OK');
    const received = server.inbox.at(-1)!;
    assert.equal(result.providerId, `250 Queued as ${received.queueId}`);
    assert.equal(result.code, '250');
    assert.deepEqual(received.envelope, { from: 'news@tideline.test', to: ['ada@example.com'] });
    assert.equal(received.mail.subject, 'Spring sale');
    assert.equal(received.mail.html, '<p>Hello <b>you</b></p>');
    assert.equal(received.mail.text?.trim(), 'Hello you');
    assert.equal(received.mail.from?.text, '"Tideline News" <news@tideline.test>');
  });

  test('the Message-ID is a stable hash of the message id at the sender domain', async () => {
    const first = delivery('ada@example.com');
    await smtp.send(first);
    await smtp.send({ ...first, firstAttemptAt: Date.now() + 1000 });
    await smtp.send(delivery('ada@example.com'));
    const [a, b, c] = server.inbox.slice(-3).map((m) => rawHeader(m, 'Message-ID')[0]);
    assert.match(a, /^<[0-9a-f]{32}@tideline\.test>$/);
    assert.equal(a, emailMessageId(first.messageId, FROM));
    assert.equal(b, a, 'a duplicate carries the same Message-ID');
    assert.notEqual(c, a);
    assert.ok(!a.includes(first.messageId), 'the internal id does not leak');
  });

  test('List-Unsubscribe (https + mailto) and List-Unsubscribe-Post as RFC 8058 wants', async () => {
    await smtp.send(
      delivery('ada@example.com', { unsubscribeUrl: UNSUBSCRIBE_URL, unsubscribeMailto: UNSUBSCRIBE_MAILTO }),
    );
    const received = server.inbox.at(-1)!;
    assert.deepEqual(rawHeader(received, 'List-Unsubscribe'), [
      `<${UNSUBSCRIBE_URL}>, <${UNSUBSCRIBE_MAILTO}>`,
    ]);
    assert.deepEqual(rawHeader(received, 'List-Unsubscribe-Post'), ['List-Unsubscribe=One-Click']);
  });

  test('a mailto-only unsubscribe gets no List-Unsubscribe-Post; none at all without unsubscribe', async () => {
    await smtp.send(delivery('ada@example.com', { unsubscribeMailto: 'unsubscribe@tideline.test' }));
    await smtp.send(delivery('ada@example.com'));
    const [mailtoOnly, plain] = server.inbox.slice(-2);
    assert.deepEqual(rawHeader(mailtoOnly, 'List-Unsubscribe'), ['<mailto:unsubscribe@tideline.test>']);
    assert.deepEqual(rawHeader(mailtoOnly, 'List-Unsubscribe-Post'), []);
    assert.deepEqual(rawHeader(plain, 'List-Unsubscribe'), []);
    assert.deepEqual(rawHeader(plain, 'List-Unsubscribe-Post'), []);
  });

  test('550 at RCPT TO: PERM_RECIPIENT, the address not in the detail', async () => {
    const result = await smtp.send(delivery('nouser@example.com'));
    assert.equal(result.class, 'PERM_RECIPIENT');
    assert.equal(result.code, '550');
    assert.match(result.detail!, /5\.1\.1 User unknown/);
    assert.ok(!result.detail!.includes('nouser'));
  });

  test('452 at RCPT TO (mailbox full): RETRY_LATER in 5 minutes', async () => {
    const result = await smtp.send(delivery('full@example.com'));
    assert.deepEqual(
      { class: result.class, code: result.code, retryAfterMs: result.retryAfterMs },
      { class: 'RETRY_LATER', code: '452', retryAfterMs: 5 * MINUTES },
    );
  });

  test('554 after the data (spam): PERM_MESSAGE, nothing delivered', async () => {
    const before = server.inbox.length;
    const result = await smtp.send(delivery('spam@example.com'));
    assert.equal(result.class, 'PERM_MESSAGE');
    assert.equal(result.code, '554');
    assert.equal(server.inbox.length, before);
  });

  test('451 after the data (greylisting): RETRY_LATER', async () => {
    const result = await smtp.send(delivery('grey@example.com'));
    assert.equal(result.class, 'RETRY_LATER');
    assert.equal(result.code, '451');
    assert.equal(result.retryAfterMs, 5 * MINUTES);
  });

  test('550 at MAIL FROM (sender refused): PERM_CONFIG', async () => {
    const result = await smtp.send(delivery('ada@example.com', { from: 'blocked@tideline.test' }));
    assert.equal(result.class, 'PERM_CONFIG');
    assert.equal(result.code, '550');
  });

  test('the connection survives refusals: the next message goes through', async () => {
    assert.equal((await smtp.send(delivery('nouser@example.com'))).class, 'PERM_RECIPIENT');
    assert.equal((await smtp.send(delivery('spam@example.com'))).class, 'PERM_MESSAGE');
    assert.equal((await smtp.send(delivery('ada@example.com'))).class, 'OK');
  });

  test('an address list or a bare name is refused without a word to the server', async () => {
    const before = server.inbox.length;
    for (const address of ['ada@example.com, eve@example.com', 'ada', 'Ada <ada@example.com>']) {
      const result = await smtp.send(delivery(address));
      assert.equal(result.class, 'PERM_RECIPIENT', address);
      assert.equal(result.code, 'EADDRESS');
    }
    assert.equal(server.inbox.length, before);
  });
});

describe('DKIM', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkimOptions = {
    domainName: 'tideline.test',
    keySelector: 's1',
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  let server: FakeSmtp;
  let smtp: SmtpProvider;
  before(async () => {
    server = await startSmtpServer();
    smtp = provider(server, { dkim: dkimOptions });
  });
  after(async () => {
    await smtp.close();
    await server.close();
  });

  test('the signature covers both unsubscribe headers and validates', async () => {
    const result = await smtp.send(
      delivery('ada@example.com', { unsubscribeUrl: UNSUBSCRIBE_URL, unsubscribeMailto: UNSUBSCRIBE_MAILTO }),
    );
    assert.equal(result.class, 'OK');
    const received = server.inbox.at(-1)!;
    const [signature] = rawHeader(received, 'DKIM-Signature');
    const tags = dkimTags(signature);
    assert.equal(tags.a, 'rsa-sha256');
    assert.equal(tags.c, 'relaxed/relaxed');
    assert.equal(tags.d, 'tideline.test');
    assert.equal(tags.s, 's1');
    const signed = tags.h.split(':');
    for (const field of [
      'from',
      'to',
      'subject',
      'date',
      'message-id',
      'list-unsubscribe',
      'list-unsubscribe-post',
    ])
      assert.ok(signed.includes(field), `h= covers ${field}`);

    assert.equal(verifyDkim(received.raw, publicKey), true);
    // The check is not vacuous: a changed header or body breaks it.
    const tampered = received.raw
      .toString('latin1')
      .replace(
        'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
        'List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks',
      );
    assert.notEqual(tampered, received.raw.toString('latin1'));
    assert.equal(verifyDkim(Buffer.from(tampered, 'latin1'), publicKey), false);
    const body = received.raw.toString('latin1').replace('Hello you', 'Hello You');
    assert.equal(verifyDkim(Buffer.from(body, 'latin1'), publicKey), false);
  });

  test('signing comes before the handover watch: a stall before the data is still RETRY', async () => {
    const impatient = provider(server, { socketTimeout: 300, dkim: dkimOptions });
    const hang = await impatient.send(delivery('hang@example.com'));
    const slow = await impatient.send(delivery('slow@example.com'));
    await impatient.close();
    assert.equal(hang.class, 'RETRY');
    assert.equal(slow.class, 'UNKNOWN');
  });

  test('an unusable key fails at construction, not as unsigned mail', () => {
    assert.throws(() =>
      provider(server, { dkim: { domainName: 'tideline.test', keySelector: 's1', privateKey: 'not a key' } }),
    );
  });
});

describe('credentials', () => {
  let server: FakeSmtp;
  before(async () => {
    server = await startSmtpServer({ auth: { user: 'u', pass: 'p' } });
  });
  after(() => server.close());

  test('bad credentials (535): PERM_CONFIG', async () => {
    const smtp = provider(server, { auth: { user: 'u', pass: 'wrong' } });
    const result = await smtp.send(delivery('ada@example.com'));
    await smtp.close();
    assert.equal(result.class, 'PERM_CONFIG');
    assert.equal(result.code, '535');
    assert.equal(server.inbox.length, 0);
  });

  test('no credentials where the server wants them (530): PERM_CONFIG', async () => {
    const smtp = provider(server, { auth: undefined });
    const result = await smtp.send(delivery('ada@example.com'));
    await smtp.close();
    assert.equal(result.class, 'PERM_CONFIG');
    assert.equal(result.code, '530');
  });
});

test('server down: RETRY', async () => {
  const port = await freePort();
  const smtp = new SmtpProvider({ host: '127.0.0.1', port, ignoreTLS: true, connectionTimeout: 1000 });
  const result = await smtp.send(delivery('ada@example.com'));
  await smtp.close();
  assert.equal(result.class, 'RETRY');
  assert.equal(result.code, 'ESOCKET');
  assert.match(result.detail!, /ECONNREFUSED/);
});

describe('a server that stops answering', () => {
  let server: FakeSmtp;
  let smtp: SmtpProvider;
  before(async () => {
    server = await startSmtpServer();
    smtp = provider(server, { socketTimeout: 300 });
  });
  after(async () => {
    await smtp.close();
    await server.close();
  });

  test('after the message was sent: UNKNOWN, and the inbox holds one copy at most', async () => {
    const sent = delivery('slow@example.com');
    const result = await smtp.send(sent);
    assert.equal(result.class, 'UNKNOWN');
    assert.equal(result.code, 'ETIMEDOUT');
    const copies = server.inbox.filter((m) => m.envelope.to[0] === 'slow@example.com');
    // The server did take it: a RETRY here would have been a duplicate.
    assert.equal(copies.length, 1);
    assert.equal(rawHeader(copies[0], 'Message-ID')[0], emailMessageId(sent.messageId, FROM));
  });

  test('before the message was sent (stalled at RCPT TO): RETRY', async () => {
    const result = await smtp.send(delivery('hang@example.com'));
    assert.equal(result.class, 'RETRY');
    assert.equal(result.code, 'ETIMEDOUT');
    assert.equal(server.inbox.filter((m) => m.envelope.to[0] === 'hang@example.com').length, 0);
  });

  test('the provider still sends afterwards', async () => {
    assert.equal((await smtp.send(delivery('ada@example.com'))).class, 'OK');
  });
});

describe('the pool', () => {
  test('reuses its connections: 20 sends over at most maxConnections', async () => {
    const server = await startSmtpServer({ latencyMs: 10 });
    const smtp = provider(server, { maxConnections: 2 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => smtp.send(delivery(`user${i}@example.com`))),
    );
    assert.deepEqual(new Set(results.map((r) => r.class)), new Set(['OK']));
    assert.equal(server.inbox.length, 20);
    assert.equal(server.connections, 2);
    // One at a time, every message takes the same connection.
    const before = server.connections;
    for (let i = 0; i < 5; i++) assert.equal((await smtp.send(delivery('ada@example.com'))).class, 'OK');
    assert.equal(server.connections, before);
    await smtp.close();
    await server.close();
  });

  test('maxMessages replaces a connection after that many messages', async () => {
    const server = await startSmtpServer();
    const smtp = provider(server, { maxConnections: 1, maxMessages: 3 });
    for (let i = 0; i < 7; i++) assert.equal((await smtp.send(delivery('ada@example.com'))).class, 'OK');
    assert.equal(server.connections, 3);
    await smtp.close();
    await server.close();
  });
});

describe('classification of answers the fake does not give', () => {
  const error = (fields: Partial<NodemailerError>) =>
    Object.assign(new Error('x'), fields) as NodemailerError;

  test('421 (server closing) is RETRY, even after the message went out', () => {
    const err = error({ code: 'EMESSAGE', responseCode: 421, permanent: false, command: 'DATA' });
    assert.equal(classifyError(err, true, MINUTES).class, 'RETRY');
  });

  test('a lost connection is RETRY before the handover and UNKNOWN after', () => {
    for (const code of ['ECONNECTION', 'ESOCKET', 'ETIMEDOUT']) {
      assert.equal(classifyError(error({ code, command: 'CONN' }), false, MINUTES).class, 'RETRY');
      assert.equal(classifyError(error({ code, command: 'CONN' }), true, MINUTES).class, 'UNKNOWN');
    }
  });

  test('a 5xx greeting or EHLO refusal, TLS and missing credentials are PERM_CONFIG', () => {
    assert.equal(
      classifyError(
        error({ code: 'EPROTOCOL', responseCode: 554, permanent: true, command: 'CONN' }),
        false,
        MINUTES,
      ).class,
      'PERM_CONFIG',
    );
    assert.equal(
      classifyError(error({ code: 'ETLS', command: 'CONN' }), false, MINUTES).class,
      'PERM_CONFIG',
    );
    assert.equal(
      classifyError(error({ code: 'ENOAUTH', command: 'API' }), false, MINUTES).class,
      'PERM_CONFIG',
    );
  });

  test('a message over the server size limit is PERM_MESSAGE', () => {
    const err = error({ code: 'EMESSAGE', command: 'MAIL FROM' });
    assert.equal(classifyError(err, false, MINUTES).class, 'PERM_MESSAGE');
  });

  test('a recipient refused after an accepted send is classified like a refusal at RCPT TO', () => {
    const info = (rejectedErrors: NodemailerError[]) =>
      ({
        accepted: [],
        rejected: ['nouser@example.com'],
        rejectedErrors,
        response: '250 OK',
        messageId: '<x@y>',
      }) as unknown as SMTPPoolSentMessageInfo;
    const permanent = error({ code: 'EENVELOPE', responseCode: 550, permanent: true, command: 'RCPT TO' });
    const deferred = error({ code: 'EENVELOPE', responseCode: 450, permanent: false, command: 'RCPT TO' });
    assert.equal(classifySent(info([permanent]), MINUTES).class, 'PERM_RECIPIENT');
    assert.equal(classifySent(info([deferred]), MINUTES).class, 'RETRY_LATER');
    assert.equal(classifySent(info([]), MINUTES).class, 'PERM_RECIPIENT');
  });

  test('addresses in server replies keep only their domain', () => {
    assert.equal(
      redact('550 5.1.1 <nouser@example.com>: Recipient address rejected'),
      '550 5.1.1 <***@example.com>: Recipient address rejected',
    );
  });
});

function dkimTags(value: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags[part.slice(0, eq).trim()] = part.slice(eq + 1).replace(/\s+/g, '');
  }
  return tags;
}

/**
 * A minimal RFC 6376 check of the first DKIM-Signature, relaxed/relaxed only (what nodemailer
 * writes): body hash, then the signature over the signed header fields.
 */
function verifyDkim(raw: Buffer, publicKey: KeyObject): boolean {
  const text = raw.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const fields = text.slice(0, split).split(/\r\n(?![ \t])/);
  const body = text.slice(split + 4);
  const relaxed = (field: string) => {
    const colon = field.indexOf(':');
    const value = field
      .slice(colon + 1)
      .replace(/\r\n/g, '')
      .replace(/[ \t]+/g, ' ')
      .trim();
    return `${field.slice(0, colon).trim().toLowerCase()}:${value}`;
  };
  const nameOf = (field: string) => field.slice(0, field.indexOf(':')).trim().toLowerCase();

  const signature = fields.find((f) => nameOf(f) === 'dkim-signature');
  if (!signature) return false;
  const tags = dkimTags(signature.slice(signature.indexOf(':') + 1));

  const lines = body.split('\r\n').map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (lines.length && lines.at(-1) === '') lines.pop();
  const canonicalBody = lines.length ? lines.join('\r\n') + '\r\n' : '';
  if (createHash('sha256').update(canonicalBody, 'latin1').digest('base64') !== tags.bh) return false;

  // Each name in h= takes the last instance of that field not taken yet (RFC 6376 5.4.2).
  const taken = new Set<number>();
  const signed: string[] = [];
  for (const name of tags.h.split(':').map((n) => n.toLowerCase())) {
    for (let i = fields.length - 1; i >= 0; i--) {
      if (!taken.has(i) && nameOf(fields[i]) === name) {
        taken.add(i);
        signed.push(relaxed(fields[i]) + '\r\n');
        break;
      }
    }
  }
  const unsigned = signature.replace(/(;\s*b\s*=)[^;]*/, '$1');
  const data = signed.join('') + relaxed(unsigned);
  return verify('sha256', Buffer.from(data, 'latin1'), publicKey, Buffer.from(tags.b, 'base64'));
}
