/**
 * Email over SMTP (any relay: Postfix, SES, Postmark, Microsoft 365...) with nodemailer's pooled
 * transport: a few long-lived connections, each sending many messages. No batch call (the pool
 * already sends concurrent deliveries in parallel) and no reconcile (SMTP has no way to ask).
 */
import nodemailer, { type NodemailerError, type Transporter, type SMTPPoolSentMessageInfo } from 'nodemailer';
import type { ChannelProvider, Delivery, EmailMessage, ProviderResult } from '../provider.ts';
import { classifyError, classifySent } from './classify.ts';
import { type DkimOptions, signDkim } from './dkim.ts';
import { type Handover, type WatchedMailOptions, watchHandover } from './handover.ts';
import { composeEmail, isMailbox } from './message.ts';

export interface SmtpProviderOptions {
  host: string;
  port: number;
  /** TLS from the first byte (port 465). Otherwise STARTTLS is used when the server offers it. */
  secure?: boolean;
  /** Fail (ETLS, PERM_CONFIG) rather than send in clear when the server offers no STARTTLS. */
  requireTLS?: boolean;
  /** Never upgrade with STARTTLS (a local relay or test server). */
  ignoreTLS?: boolean;
  auth?: { user: string; pass: string };
  /** Simultaneous connections. Default 5. */
  maxConnections?: number;
  /** Messages per connection before it is replaced. Default 100. */
  maxMessages?: number;
  /** At most `rateLimit` messages per `rateDelta` ms over all connections. Default unlimited. */
  rateLimit?: number;
  rateDelta?: number;
  /** Time to open the TCP connection. Default 15 s. */
  connectionTimeout?: number;
  /** Time to the server's greeting. Default 15 s. */
  greetingTimeout?: number;
  /**
   * Silence allowed on a connection, the wait for the reply to the message included: a timeout
   * there is UNKNOWN and the message is never sent again, so not too short. Default 60 s
   * (nodemailer: 10 min, which would hold a worker as long).
   */
  socketTimeout?: number;
  dkim?: DkimOptions;
  /** How long a 4xx (mailbox full, greylisting, rate limit) asks us to wait. Default 5 min. */
  retryLaterMs?: number;
}

export class SmtpProvider implements ChannelProvider<string, EmailMessage> {
  readonly name = 'smtp';
  private readonly transport: Transporter<SMTPPoolSentMessageInfo>;
  private readonly retryLaterMs: number;

  constructor(options: SmtpProviderOptions) {
    const { dkim, retryLaterMs, ...smtp } = options;
    this.retryLaterMs = retryLaterMs ?? 5 * 60_000;
    this.transport = nodemailer.createTransport({
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
      ...smtp,
      pool: true,
      // The content is ours, but nothing in it should ever make the sender read a file or a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    // Order matters: the handover watch must see the stream the connection reads, after signing.
    if (dkim) this.transport.use('stream', signDkim(dkim));
    this.transport.use('stream', watchHandover);
  }

  async send(delivery: Delivery<string, EmailMessage>): Promise<ProviderResult> {
    if (!isMailbox(delivery.address))
      return { class: 'PERM_RECIPIENT', code: 'EADDRESS', detail: 'not a single email address' };
    const handover: Handover = { complete: false };
    const mail: WatchedMailOptions = { ...composeEmail(delivery), handover };
    try {
      return classifySent(await this.transport.sendMail(mail), this.retryLaterMs);
    } catch (err) {
      return classifyError(err as NodemailerError, handover.complete, this.retryLaterMs);
    }
  }

  /** Closes idle connections now and the busy ones once their message is done. */
  async close(): Promise<void> {
    this.transport.close();
  }
}
