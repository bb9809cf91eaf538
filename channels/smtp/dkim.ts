/** DKIM signing of outgoing mail (rsa-sha256, relaxed/relaxed), as a nodemailer `stream` plugin. */
import { createPrivateKey } from 'node:crypto';
import type { PluginFunction } from 'nodemailer';
import DKIM from 'nodemailer/lib/dkim';

export interface DkimOptions {
  /** The `d=` domain: the sender's domain (or its organisational domain) for DMARC alignment. */
  domainName: string;
  /** The `s=` selector: the public key is published at `<keySelector>._domainkey.<domainName>`. */
  keySelector: string;
  /** PEM-encoded RSA private key. */
  privateKey: string;
}

/**
 * The header fields signed when present. Gmail and Yahoo want both unsubscribe headers covered
 * (RFC 8058); nodemailer's default list leaves out `list-unsubscribe-post`.
 */
export const DKIM_HEADER_FIELDS = [
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'list-unsubscribe',
  'list-unsubscribe-post',
].join(':');

/**
 * Signs each message. A plugin rather than the transport's `dkim` option, so that the signing comes
 * before the handover watch (see handover.ts), which nodemailer's own signing would follow.
 */
export function signDkim(options: DkimOptions): PluginFunction {
  // nodemailer sends the message unsigned when the key does not work: fail at start-up instead.
  createPrivateKey(options.privateKey);
  const dkim = new DKIM({ ...options, headerFieldNames: DKIM_HEADER_FIELDS });
  return (mail, done) => {
    mail.message.processFunc((input) => dkim.sign(input));
    done();
  };
}
