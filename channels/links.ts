/**
 * Signed links in messages: a click redirect per message (`/c/<token>`) and an unsubscribe link
 * (`/u/<token>`). The token carries what the link is for and an HMAC over it, so a link cannot be
 * turned into an open redirect or into someone else's unsubscribe.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

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
  constructor(
    /** Where the API is reachable from the recipients' devices, e.g. `https://t.example.com`. */
    readonly publicUrl: string,
    private readonly secret: string,
  ) {}

  clickUrl(link: ClickLink): string {
    return `${this.publicUrl}/c/${this.sign({ m: link.messageId, u: link.url })}`;
  }

  unsubscribeUrl(link: UnsubscribeLink): string {
    const { profileKey: k, channel: c, address: a, messageId: m } = link;
    return `${this.publicUrl}/u/${this.sign(m ? { k, c, a, m } : { k, c, a })}`;
  }

  click(token: string): ClickLink | null {
    const data = this.open(token);
    return data && typeof data.m === 'string' && typeof data.u === 'string'
      ? { messageId: data.m, url: data.u }
      : null;
  }

  unsubscribe(token: string): UnsubscribeLink | null {
    const data = this.open(token);
    if (!data || typeof data.k !== 'string' || typeof data.a !== 'string') return null;
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

  private sign(data: Record<string, string>): string {
    const body = Buffer.from(JSON.stringify(data)).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  private open(token: string): Record<string, unknown> | null {
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
