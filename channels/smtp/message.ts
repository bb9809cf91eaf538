/** What one delivery becomes on the wire: headers and body of the email. */
import { createHash } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import type { Delivery, EmailMessage } from '../provider.ts';

/**
 * The Message-ID header for a message id: `<hash@domain of the sender>`. The same message id always
 * gives the same header, so a duplicate (SMTP has no idempotency) is recognisable in the inbox and in
 * bounces. Hashed rather than encoded: the id names journeys and enrollments, which recipients see.
 */
export function emailMessageId(messageId: string, from: string): string {
  const hash = createHash('sha256').update(messageId).digest('hex').slice(0, 32);
  return `<${hash}@${senderDomain(from)}>`;
}

function senderDomain(from: string): string {
  const [first] = addressparser(from, { flatten: true });
  const address = first?.address ?? '';
  const at = address.lastIndexOf('@');
  return at > 0 && at < address.length - 1 ? address.slice(at + 1).toLowerCase() : 'localhost';
}

/**
 * RFC 2369 `List-Unsubscribe` with both URIs in one field, and RFC 8058 `List-Unsubscribe-Post`
 * when there is an https URI to POST to. Raw headers: nodemailer's `list` option writes one field
 * per URI and renders the Post value as a URL.
 */
export function listUnsubscribeHeaders(message: EmailMessage): Record<string, string> {
  const uris: string[] = [];
  if (message.unsubscribeUrl) uris.push(message.unsubscribeUrl);
  if (message.unsubscribeMailto)
    uris.push(
      /^mailto:/i.test(message.unsubscribeMailto)
        ? message.unsubscribeMailto
        : `mailto:${message.unsubscribeMailto}`,
    );
  if (uris.length === 0) return {};
  const headers: Record<string, string> = { 'List-Unsubscribe': uris.map((u) => `<${u}>`).join(', ') };
  if (message.unsubscribeUrl && /^https:/i.test(message.unsubscribeUrl))
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  return headers;
}

/**
 * One bare addr-spec, nothing that would turn into another recipient or header: nodemailer parses
 * `to` as an address list, so `a@x, b@y` would be two recipients.
 */
export function isMailbox(address: string): boolean {
  return /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/.test(address);
}

/** nodemailer's message data for a delivery (the recipient already checked with `isMailbox`). */
export function composeEmail({
  messageId,
  address,
  message,
}: Delivery<string, EmailMessage>): SendMailOptions {
  return {
    from: message.from,
    to: address,
    subject: message.subject,
    html: message.html,
    text: message.text,
    messageId: emailMessageId(messageId, message.from),
    headers: listUnsubscribeHeaders(message),
  };
}
