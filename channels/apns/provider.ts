import apn from '@parse/node-apn';
import type { ChannelProvider, Delivery, ProviderResult, PushAddress, PushMessage } from '../provider.ts';
import { providerMismatch } from '../push/mismatch.ts';
import { classifyApnsFailure } from './errors.ts';
import { toApnsNotification } from './notification.ts';

export interface ApnsOptions {
  /** The token-auth signing key: the .p8 file's PEM text (or its path), with its key id and the team id. */
  key: string | Buffer;
  keyId: string;
  teamId: string;
  /** The app's bundle id: every push's `apns-topic` (`topic` in channels.json). */
  topic: string;
  /** api.push.apple.com when true, api.sandbox.push.apple.com when false (ignored when `address` is set). */
  production: boolean;
  /** Another host (a local fake); its port goes in `port`, not in the address. */
  address?: string;
  /** Defaults to 443. */
  port?: number;
  /** Per request; a push that times out is UNKNOWN. Defaults to 10 s. */
  timeoutMs?: number;
  /** Defaults to true; false only for a fake's self-signed certificate. */
  rejectUnauthorized?: boolean;
  /** The clock (apns-expiration); defaults to Date.now. */
  now?: () => number;
}

/**
 * Direct APNs over one HTTP/2 session through @parse/node-apn, no reconcile.
 *
 * node-apn's own retries are off (`connectionRetryLimit: 0`): it would resend 408/429/5xx answers
 * at once and up to three times (it misses APNs' lowercase retry-after header), behind the
 * dispatcher's back. The one retry kept is ours, after 403 ExpiredProviderToken, for which
 * node-apn has already signed a new JWT.
 */
export class ApnsProvider implements ChannelProvider<PushAddress, PushMessage> {
  readonly name = 'apns';
  private readonly client: apn.Provider;
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApnsOptions) {
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.client = new apn.Provider({
      token: { key: options.key, keyId: options.keyId, teamId: options.teamId },
      production: options.production,
      ...(options.address ? { address: options.address } : {}),
      port: options.port ?? 443,
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      connectionRetryLimit: 0,
      requestTimeout: this.timeoutMs,
    });
  }

  async send(delivery: Delivery<PushAddress, PushMessage>): Promise<ProviderResult> {
    const mismatch = providerMismatch(delivery, 'apns');
    if (mismatch) return mismatch;
    const first = await this.attempt(delivery);
    return first.class === 'REFRESH_TOKEN' ? this.attempt(delivery) : first;
  }

  close(): Promise<void> {
    // node-apn's shutdown never calls back when its session died of a connection error; pushes in
    // flight end within the request timeout anyway.
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.timeoutMs).unref();
      this.client.shutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async attempt(delivery: Delivery<PushAddress, PushMessage>): Promise<ProviderResult> {
    const note = toApnsNotification(delivery, this.options.topic, this.now());
    const { sent, failed } = await this.client.send(note, delivery.address.token);
    if (failed.length > 0) return classifyApnsFailure(failed[0]);
    // node-apn passes the answer's apns-id header on, untyped.
    const accepted = sent[0] as apn.ResponseSent & { 'apns-id'?: string };
    return { class: 'OK', providerId: accepted['apns-id'] ?? note.id };
  }
}
