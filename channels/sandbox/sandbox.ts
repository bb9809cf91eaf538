import type { ChannelGateway, SendOutcome, SendRequest } from '../../ports/channel-gateway.ts';

/** A message the sandbox took: what would have been sent, to whom. */
export interface SandboxRecord {
  messageId: string;
  userId: string | null;
  profileKey: string;
  journeyId: string;
  step: string;
  channel: string;
  template: string;
  variant?: number;
  requestedAt: number;
  /** The address a real channel would have sent to, masked (none on the `sandbox` channel itself). */
  address?: string;
  /** The message as rendered for the channel's provider (none on the `sandbox` channel itself). */
  rendered?: unknown;
}

/**
 * The built-in channel: records what would be sent and delivers nothing. Channels without a
 * provider end here once the dispatcher has done everything a real send does (address, consent,
 * suppression, claim, rendering, caps), so what it records is what a provider would have been
 * handed; the `sandbox` channel itself is recorded as it comes. Keeps the last `limit` records in
 * memory, one per message id (a message handed over twice is recorded once).
 */
export class SandboxChannel implements ChannelGateway {
  private readonly records = new Map<string, SandboxRecord>();

  constructor(private readonly limit = 10_000) {}

  async send(request: SendRequest): Promise<SendOutcome> {
    this.record(request);
    return { status: 'sandbox' };
  }

  /** Records a message (with what the channel would have sent, when the dispatcher resolved it). */
  record(
    { message, profile }: SendRequest,
    delivered?: { channel: string; address: string; rendered: unknown },
  ): void {
    if (this.records.has(message.messageId)) return;
    this.records.set(message.messageId, {
      messageId: message.messageId,
      userId: profile.userId,
      profileKey: profile.key,
      journeyId: message.journeyId,
      step: message.step,
      channel: delivered?.channel ?? message.channel,
      template: message.template,
      ...(message.variant !== undefined ? { variant: message.variant } : {}),
      requestedAt: message.requestedAt,
      ...(delivered ? { address: delivered.address, rendered: delivered.rendered } : {}),
    });
    if (this.records.size > this.limit) this.records.delete(this.records.keys().next().value!);
  }

  /** The messages recorded, oldest first. */
  sent(): SandboxRecord[] {
    return [...this.records.values()];
  }
}
