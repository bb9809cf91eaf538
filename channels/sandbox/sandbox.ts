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
}

/**
 * The built-in channel: records what would be sent and delivers nothing. Journeys send through it
 * until the providers are configured, and it stays for dry runs and test workspaces. Keeps the last
 * `limit` records in memory, one per message id (a message handed over twice is recorded once).
 */
export class SandboxChannel implements ChannelGateway {
  private readonly records = new Map<string, SandboxRecord>();

  constructor(private readonly limit = 10_000) {}

  async send({ message, profile }: SendRequest): Promise<SendOutcome> {
    if (!this.records.has(message.messageId)) {
      this.records.set(message.messageId, {
        messageId: message.messageId,
        userId: profile.userId,
        profileKey: profile.key,
        journeyId: message.journeyId,
        step: message.step,
        channel: message.channel,
        template: message.template,
        ...(message.variant !== undefined ? { variant: message.variant } : {}),
        requestedAt: message.requestedAt,
      });
      if (this.records.size > this.limit) this.records.delete(this.records.keys().next().value!);
    }
    return { status: 'sandbox' };
  }

  /** The messages recorded, oldest first. */
  sent(): SandboxRecord[] {
    return [...this.records.values()];
  }
}
