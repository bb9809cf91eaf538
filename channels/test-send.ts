/**
 * A test send: one template, rendered for a chosen user or its sample, to an address the marketer
 * types, through the provider the channels file configures for its channel. It goes around the
 * dispatcher's user side on purpose: no consent, caps, claim or message record, so a test is never
 * counted in reports, never capped against a user and never shown as a user's message. The
 * message id starts with `test-` and an email's subject with `[Test]`, so the provider's logs and the
 * inbox tell it apart. A channel without a provider answers `sandbox`, with what it would have sent.
 */
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../model/json.ts';
import { InputError } from '../model/input-error.ts';
import type { Logger } from '../ports/logger.ts';
import { type RenderScope, renderContent } from '../templates/render.ts';
import type { TemplateDefinition } from '../templates/template.ts';
import { canonicalEmail, canonicalPhone, maskAddress } from './addresses.ts';
import type { ChannelsConfig } from './config.ts';
import type { Providers } from './dispatcher.ts';
import { providerMessage } from './provider-message.ts';
import type { ChannelProvider, OutcomeClass, PushAddress } from './provider.ts';
import { type BuiltProviders, buildProviders } from './registry.ts';

export const TEST_SUBJECT_PREFIX = '[Test] ';

/** Where a push test goes: the device's token and its provider. */
export interface TestDevice {
  provider: PushAddress['provider'];
  platform: PushAddress['platform'];
}

export interface TestSendResult {
  status: 'sent' | 'failed' | 'sandbox';
  channel: string;
  /** The provider's name in the channels file, `sandbox` when none is configured. */
  provider: string;
  messageId: string;
  /** The address, masked as in the logs. */
  to: string;
  /** What went (or would have gone) to the provider. */
  message: unknown;
  class?: OutcomeClass;
  providerId?: string;
  code?: string;
  detail?: string;
}

type AnyProvider = ChannelProvider<never, never>;

/** The address typed for a channel, in the provider's form; a fault at `/to` when it cannot be one. */
function addressFor(
  channel: string,
  to: string,
  device: TestDevice | undefined,
  appId: string | undefined,
): unknown {
  const wrong = (message: string) => InputError.invalid([{ pointer: '/to', message }]);
  switch (channel) {
    case 'sms': {
      const phone = canonicalPhone(to);
      if (!/^\+?\d{6,15}$/.test(phone)) throw wrong('must be a phone number (digits, an optional +)');
      return phone;
    }
    case 'email': {
      const email = canonicalEmail(to);
      if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw wrong('must be an email address');
      return email;
    }
    case 'push':
      if (!/^\S{8,}$/.test(to)) throw wrong('must be a device token');
      return { token: to, platform: device?.platform ?? 'android', provider: device?.provider ?? 'fcm' };
    case 'wechat':
    case 'miniprogram':
      if (!/^[\w-]{6,64}$/.test(to)) throw wrong('must be an openid');
      return { appId: appId ?? '', openId: to };
    default:
      throw InputError.invalid([
        {
          pointer: '/template/channel',
          message: `the ${channel} channel sends nowhere: it has no test send`,
        },
      ]);
  }
}

export class TestSender {
  private built: BuiltProviders | null = null;

  constructor(
    private readonly options: {
      channels: ChannelsConfig;
      logger: Logger;
      /** The providers to use instead of building them from the channels file (tests). */
      providers?: Providers;
      emailFrom?: string;
    },
  ) {}

  /** Built on the first test send: an API process opens provider connections only when asked to. */
  private providers(): { providers: Providers; emailFrom?: string } {
    if (this.options.providers)
      return { providers: this.options.providers, emailFrom: this.options.emailFrom };
    this.built ??= buildProviders(this.options.channels);
    return this.built;
  }

  /** The sender of email templates that name none. */
  emailFrom(): string | undefined {
    if (this.options.providers) return this.options.emailFrom;
    const smtp = this.options.channels.providers.smtp ?? this.options.channels.partial.smtp;
    return typeof smtp?.from === 'string' ? smtp.from : undefined;
  }

  /** The template rendered and shaped as a journey's message would be (throws RenderError). */
  render(template: TemplateDefinition, scope: RenderScope, messageId: string): unknown {
    const content = renderContent(template, scope) as unknown as JsonObject;
    const from = this.emailFrom();
    return providerMessage(template.channel, content, {
      messageId,
      ...(from ? { emailFrom: from } : {}),
      unsubscribe: null,
      marketing: true,
    });
  }

  async send(
    template: TemplateDefinition,
    scope: RenderScope,
    to: string,
    device?: TestDevice,
  ): Promise<TestSendResult> {
    const { providers } = this.providers();
    const channel = template.channel;
    const provider = ((): AnyProvider | undefined => {
      if (channel === 'sms') return providers.sms as AnyProvider | undefined;
      if (channel === 'email') return providers.email as AnyProvider | undefined;
      if (channel === 'push') return providers.push?.[device?.provider ?? 'fcm'] as AnyProvider | undefined;
      if (channel === 'wechat' || channel === 'miniprogram')
        return providers[channel]?.provider as AnyProvider | undefined;
      return undefined;
    })();
    const partialApp =
      (channel === 'wechat' || channel === 'miniprogram') && this.options.channels.partial[channel];
    const appId =
      channel === 'wechat' || channel === 'miniprogram'
        ? (providers[channel]?.appId ?? (partialApp ? String(partialApp.appId) : undefined))
        : undefined;
    const address = addressFor(channel, to, device, appId);
    const messageId = `test-${randomUUID()}`;
    const rendered = this.render(template, { ...scope, message: { id: messageId, channel } }, messageId);
    const message =
      channel === 'email'
        ? {
            ...(rendered as JsonObject),
            subject: `${TEST_SUBJECT_PREFIX}${(rendered as JsonObject).subject}`,
          }
        : rendered;
    const masked = maskAddress(typeof address === 'string' ? address : JSON.stringify(address));
    const base = { channel, messageId, to: masked, message };
    if (!provider) return { ...base, status: 'sandbox', provider: 'sandbox' };
    let result;
    try {
      result = await provider.send({ messageId, address, message, firstAttemptAt: Date.now() } as never);
    } catch (error) {
      result = { class: 'UNKNOWN' as const, detail: (error as Error).message };
    }
    this.options.logger.info(
      { messageId, template: template.id, provider: provider.name, to: masked, class: result.class },
      'test send',
    );
    return {
      ...base,
      status: result.class === 'OK' ? 'sent' : 'failed',
      provider: provider.name,
      class: result.class,
      ...(result.providerId ? { providerId: result.providerId } : {}),
      ...(result.code ? { code: result.code } : {}),
      ...(result.detail ? { detail: result.detail } : {}),
    };
  }

  async close(): Promise<void> {
    await this.built?.close();
  }
}
