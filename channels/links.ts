/**
 * Signed links in messages: a click redirect per message (`/c/<token>`) and an unsubscribe link
 * (`/u/<token>`). The token carries what the link is for, encrypted and authenticated (AES-256-GCM
 * under a key derived from the link secret): a link cannot be turned into an open redirect or into
 * someone else's unsubscribe, and it shows no user id or address to whoever reads it (mail logs,
 * proxies, forwarded messages). Tokens of the earlier readable form (`<body>.<hmac>`) still open.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface ClickLink {
  messageId: string;
  url: string;
}

export interface UnsubscribeLink {
  profileKey: string;
  channel: 'email' | 'sms' | 'push' | 'wechat';
  address: string;
  messageId?: string;
}

export class LinkSigner {
  private readonly key: Buffer;

  constructor(
    /** Where the API is reachable from the recipients' devices, e.g. `https://t.example.com`. */
    readonly publicUrl: string,
    private readonly secret: string,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'tideline-links', 'link-token-v2', 32));
  }

  clickUrl(link: ClickLink): string {
    return `${this.publicUrl}/c/${this.seal({ t: 'c', m: link.messageId, u: link.url })}`;
  }

  unsubscribeUrl(link: UnsubscribeLink): string {
    const { profileKey: k, channel: c, address: a, messageId: m } = link;
    return `${this.publicUrl}/u/${this.seal(m ? { t: 'u', k, c, a, m } : { t: 'u', k, c, a })}`;
  }

  click(token: string): ClickLink | null {
    const data = this.open(token);
    return data && data.t !== 'u' && typeof data.m === 'string' && typeof data.u === 'string'
      ? { messageId: data.m, url: data.u }
      : null;
  }

  unsubscribe(token: string): UnsubscribeLink | null {
    const data = this.open(token);
    if (!data || data.t === 'c' || typeof data.k !== 'string' || typeof data.a !== 'string') return null;
    if (!['email', 'sms', 'push', 'wechat'].includes(String(data.c))) return null;
    return {
      profileKey: data.k,
      channel: data.c as UnsubscribeLink['channel'],
      address: data.a,
      ...(typeof data.m === 'string' ? { messageId: data.m } : {}),
    };
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.secret).update(body).digest().subarray(0, 16);
  }

  private seal(data: Record<string, string>): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(JSON.stringify(data)), cipher.final()]);
    return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
  }

  private open(token: string): Record<string, unknown> | null {
    return token.includes('.') ? this.openReadable(token) : this.unseal(token);
  }

  private unseal(token: string): Record<string, unknown> | null {
    const raw = Buffer.from(token, 'base64url');
    // One spelling per token: padding or stray characters are not the link.
    if (raw.length <= IV_BYTES + TAG_BYTES || raw.toString('base64url') !== token) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]);
      const data: unknown = JSON.parse(plain.toString());
      return data && typeof data === 'object' ? (data as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  /** The earlier form: base64url JSON and a truncated HMAC, for links sent before the change. */
  private openReadable(token: string): Record<string, unknown> | null {
    const parts = token.split('.');
    if (parts.length !== 2) return null;
    const [body, mac] = parts;
    if (!body || !mac) return null;
    // Compared as the text this signer writes: a padded or otherwise re-spelt MAC is not the link.
    const given = Buffer.from(mac);
    const expected = Buffer.from(this.mac(body).toString('base64url'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    if (Buffer.from(body, 'base64url').toString('base64url') !== body) return null;
    try {
      const data: unknown = JSON.parse(Buffer.from(body, 'base64url').toString());
      return data && typeof data === 'object' ? (data as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
}
