/**
 * What an SMTP answer means for the engine. The server's reply decides when there
 * is one: 5xx is permanent for whatever the failing command was about (RCPT TO: the recipient, DATA:
 * the message, anything else: our account or setup), 4xx asks us to come back later, 421 says the
 * server is closing. Without a reply it is the connection that failed, and what that means depends
 * on whether the whole message had gone out (handover.ts): SMTP has no idempotency and no way to
 * ask afterwards, so a message that may have arrived is UNKNOWN and never sent again.
 */
import type { NodemailerError, SMTPPoolSentMessageInfo } from 'nodemailer';
import { isTransientError } from 'nodemailer/lib/errors';
import type { OutcomeClass, ProviderResult } from '../provider.ts';

/** Credentials, TLS, settings: nothing a retry changes. */
const CONFIG_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ETLS', 'EREQUIRETLS', 'ECONFIG']);

/** Refused by nodemailer before it went out (size over the server's limit, bad envelope, content). */
const MESSAGE_CODES = new Set([
  'EMESSAGE',
  'EENVELOPE',
  'EMAXRECIPIENTS',
  'ESTREAM',
  'EFILEACCESS',
  'EURLACCESS',
  'EFETCH',
]);

/** A server's answer to a delivery it took. */
export function classifySent(info: SMTPPoolSentMessageInfo, retryLaterMs: number): ProviderResult {
  // One recipient per message, so this only happens with servers that refuse per recipient after
  // the data (LMTP); the refusal is classified like the one at RCPT TO.
  if (info.rejected.length > 0) {
    const [rejection] = info.rejectedErrors ?? [];
    if (rejection) return classifyError(rejection, false, retryLaterMs);
    return { class: 'PERM_RECIPIENT', detail: redact(info.response) };
  }
  return {
    class: 'OK',
    // The relay's own id when it replaced our Message-ID (SES, Microsoft 365): its bounces and
    // complaints name that one. Otherwise the whole reply, which carries the queue id in whatever
    // format the relay uses (`250 2.0.0 Ok: queued as 4Fq1x2`).
    providerId: info.serverMessageId ?? info.response,
    code: info.response.slice(0, 3),
  };
}

/**
 * A failed delivery. `handedOver`: the connection had read the whole message, so the server may
 * have it even though no answer came.
 */
export function classifyError(
  err: NodemailerError,
  handedOver: boolean,
  retryLaterMs: number,
): ProviderResult {
  const result = (outcome: OutcomeClass, retryAfterMs?: number): ProviderResult => ({
    class: outcome,
    code: err.responseCode ? String(err.responseCode) : err.code,
    detail: redact([err.originalCode, err.timeoutType, err.message].filter(Boolean).join(' ')),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
  const lost = () => result(handedOver ? 'UNKNOWN' : 'RETRY');

  if (err.responseCode) {
    // 421: the server is closing the connection (maybe for a restart); another one will do.
    if (err.responseCode === 421) return result('RETRY');
    if (err.permanent) {
      if (CONFIG_CODES.has(err.code ?? '')) return result('PERM_CONFIG');
      if (err.command === 'RCPT TO') return result('PERM_RECIPIENT');
      if (err.command === 'DATA') return result('PERM_MESSAGE');
      // MAIL FROM (sender refused), the greeting (our IP is blocked), EHLO, AUTH.
      return result('PERM_CONFIG');
    }
    // Mailbox full, greylisting, a rate limit: the server wants time, not an immediate retry.
    if (err.responseCode >= 400 && err.responseCode < 500) return result('RETRY_LATER', retryLaterMs);
    // 503 (a confused session) or a reply that makes no sense where it came.
    return lost();
  }
  if (CONFIG_CODES.has(err.code ?? '')) return result('PERM_CONFIG');
  // Connection refused, reset or timed out.
  if (isTransientError(err)) return lost();
  if (MESSAGE_CODES.has(err.code ?? '')) return result('PERM_MESSAGE');
  // DNS, a proxy, the pool closing, anything unforeseen: nothing says the message is at fault.
  return lost();
}

/** Server replies quote addresses (`<nouser@example.com>: User unknown`); the log keeps the domain. */
export function redact(text: string): string {
  return text.replace(/[^\s<>"'(),;:[\]]+@/g, '***@');
}
