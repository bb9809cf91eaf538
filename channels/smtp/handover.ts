/**
 * Whether the whole message went to the server. A server can only queue a message once it has the
 * final `<CRLF>.<CRLF>`, which the SMTP connection writes as soon as it has read the last byte of the
 * message stream. So a lost connection before that is safe to retry, and after it the message may
 * or may not have been taken (UNKNOWN). The SMTP errors alone cannot tell: a socket timeout reads
 * the same whether it hit RCPT TO or the reply to the final dot.
 */
import type { PluginFunction, SendMailOptions } from 'nodemailer';

export interface Handover {
  /** The connection read the message to its end: the final dot is on its way, or arrived. */
  complete: boolean;
}

/** Message data carrying the handover to watch (nodemailer hands unknown keys on to plugins). */
export interface WatchedMailOptions extends SendMailOptions {
  handover: Handover;
}

/**
 * A `stream` plugin watching the message stream the connection reads. It must be the last one to
 * add a process function (after DKIM signing, which reads its whole input before it writes): an
 * earlier stream is read ahead by the next stage, not by the connection.
 */
export const watchHandover: PluginFunction = (mail, done) => {
  const { handover } = mail.data as Partial<WatchedMailOptions>;
  if (handover)
    mail.message.processFunc((stream) =>
      stream.once('end', () => {
        handover.complete = true;
      }),
    );
  done();
};
