/**
 * A real SMTP server on 127.0.0.1 (smtp-server + mailparser) for the SMTP
 * provider's tests, benchmarks and dev scripts. Outcomes are scripted by the local part of the
 * addresses (SCRIPTED_RECIPIENTS, SCRIPTED_SENDERS); every other address is accepted. Imports
 * nothing from node:test.
 */
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerEnvelope } from 'smtp-server';
import { FakeTimers } from './timers.ts';

/** What the fake answers for a recipient, by local part. */
export const SCRIPTED_RECIPIENTS = {
  /** RCPT TO: 550 5.1.1 User unknown. */
  nouser: 'rcpt 550',
  /** RCPT TO: 452 4.2.2 Mailbox full. */
  full: 'rcpt 452',
  /** RCPT TO: never answered (the client's socket timeout ends it, before any data was sent). */
  hang: 'rcpt stall',
  /** After the message: 554 5.7.1 rejected as spam. */
  spam: 'data 554',
  /** After the message: 451 4.7.1 greylisted. */
  grey: 'data 451',
  /** Takes the message into the inbox, then never answers (the client's socket timeout ends it). */
  slow: 'stall after data',
} as const;

/** What the fake answers for a sender, by local part. */
export const SCRIPTED_SENDERS = {
  /** MAIL FROM: 550 5.7.1 Sender rejected. */
  blocked: 'mail 550',
} as const;

export interface FakeSmtpOptions {
  /** Credentials the server requires (AUTH PLAIN/LOGIN); false: no authentication. Default u / p. */
  auth?: { user: string; pass: string } | false;
  /** Wait this long before answering each message (after it was received). */
  latencyMs?: number;
  /** Largest message accepted (552 beyond). Default 10 MB. */
  maxSize?: number;
}

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The message as it arrived (dot-stuffing undone), for signature checks. */
  raw: Buffer;
  mail: ParsedMail;
  /** The id in the server's reply, `250 Queued as <queueId>`. */
  queueId: string;
}

export interface FakeSmtp {
  readonly host: string;
  readonly port: number;
  /** Every message the server took, in order (a stalled one included). */
  readonly inbox: ReceivedMail[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

type Script = (typeof SCRIPTED_RECIPIENTS)[keyof typeof SCRIPTED_RECIPIENTS];

function localPart(address: string): string {
  return address.slice(0, address.lastIndexOf('@')).toLowerCase();
}

function recipientScript(address: string): Script | undefined {
  return (SCRIPTED_RECIPIENTS as Record<string, Script>)[localPart(address)];
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

async function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function plainEnvelope(envelope: SMTPServerEnvelope): ReceivedMail['envelope'] {
  return {
    from: envelope.mailFrom ? envelope.mailFrom.address : '',
    to: envelope.rcptTo.map((r) => r.address),
  };
}

export async function startSmtpServer(options: FakeSmtpOptions = {}): Promise<FakeSmtp> {
  const auth = options.auth === undefined ? { user: 'u', pass: 'p' } : options.auth;
  const maxSize = options.maxSize ?? 10 * 1024 * 1024;
  const inbox: ReceivedMail[] = [];
  const timers = new FakeTimers();
  let connections = 0;

  const later = (ms: number, fn: () => void) => timers.later(ms, fn);

  const server = new SMTPServer({
    secure: false,
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !auth,
    logger: false,
    size: maxSize,
    closeTimeout: 100,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onAuth(credentials, _session, callback) {
      if (auth && credentials.username === auth.user && credentials.password === auth.pass)
        return callback(null, { user: auth.user });
      callback(smtpError('Invalid username or password', 535));
    },
    onMailFrom(address, _session, callback) {
      if (localPart(address.address) === 'blocked') return callback(smtpError('5.7.1 Sender rejected', 550));
      callback();
    },
    onRcptTo(address, _session, callback) {
      const script = recipientScript(address.address);
      if (script === 'rcpt 550') return callback(smtpError('5.1.1 User unknown', 550));
      if (script === 'rcpt 452') return callback(smtpError('4.2.2 Mailbox full', 452));
      if (script === 'rcpt stall') return;
      callback();
    },
    onData(stream, session, callback) {
      const scripts = session.envelope.rcptTo.map((r) => recipientScript(r.address));
      readAll(stream)
        .then(async (raw) => {
          if (stream.sizeExceeded) return callback(smtpError('5.3.4 Message too big', 552));
          if (scripts.includes('data 554')) return callback(smtpError('5.7.1 Message rejected as spam', 554));
          if (scripts.includes('data 451'))
            return callback(smtpError('4.7.1 Greylisted, try again later', 451));
          const queueId = String(inbox.length + 1);
          inbox.push({
            envelope: plainEnvelope(session.envelope),
            raw,
            mail: await simpleParser(raw),
            queueId,
          });
          // The message is taken, but the answer never comes: the client cannot know.
          if (scripts.includes('stall after data')) return;
          const answer = () => callback(null, `Queued as ${queueId}`);
          if (options.latencyMs) later(options.latencyMs, answer);
          else answer();
        })
        .catch((err: Error) => callback(err));
    },
  });
  // Clients that give up (socket timeouts, a closed pool) reset their connections: not a failure here.
  server.on('error', () => {});

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    inbox,
    get connections() {
      return connections;
    },
    close() {
      timers.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
