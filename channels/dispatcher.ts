/**
 * The channel gateway: takes a message from a user's outbox and sees it through one provider.
 * In order: route (the provider and the user's address), policy that needs no claim (consent,
 * suppression, quiet hours, a paused channel), the claim on the message id, rendering, frequency
 * caps and subscription credits (reserved atomically), the provider's rate, the call, and what the
 * answer's class calls for (retry, wait, suppress, alert, reconcile). A channel without a provider
 * takes the same way up to the call, and the sandbox records the message instead: it skips, fails
 * to render and is capped exactly as the channel will once its provider is configured.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { quietEnd, sendBackoff } from '../policy/send-time.ts';
import type { StoredEvent } from '../model/events.ts';
import type { JsonObject } from '../model/json.ts';
import type { ChannelGateway, SendOutcome, SendRequest } from '../ports/channel-gateway.ts';
import type { ChannelState, MessageRecord } from '../ports/channel-state.ts';
import type { Logger } from '../ports/logger.ts';
import type { Profile } from '../model/profile.ts';
import { Batcher } from './batcher.ts';
import { deviceOf, emailOf, maskAddress, openIdOf, phoneOf } from './addresses.ts';
import type { SendPolicy } from './config.ts';
import type { LinkSigner } from './links.ts';
import { capWindows, creditKey, promotionalSmsWait } from './policy.ts';
import type {
  ChannelProvider,
  Delivery,
  EmailMessage,
  MiniprogramMessage,
  ProviderResult,
  PushAddress,
  PushMessage,
  SmsMessage,
  WechatAddress,
  WechatTemplateMessage,
} from './provider.ts';
import { providerMessage } from './provider-message.ts';
import type { SandboxChannel } from './sandbox/sandbox.ts';
import { profileScope, readsEvent, readsLinks, RenderError, renderContent } from '../templates/render.ts';
import type { OutboxMessage } from '../model/journeys.ts';
import type { TemplateDefinition } from '../templates/template.ts';

// The adapters differ in address and message types; the dispatcher holds them side by side.
type AnyProvider = ChannelProvider<never, never>;

export interface Providers {
  sms?: ChannelProvider<string, SmsMessage>;
  email?: ChannelProvider<string, EmailMessage>;
  push?: Partial<Record<PushAddress['provider'], ChannelProvider<PushAddress, PushMessage>>>;
  wechat?: { appId: string; provider: ChannelProvider<WechatAddress, WechatTemplateMessage> };
  miniprogram?: { appId: string; provider: ChannelProvider<WechatAddress, MiniprogramMessage> };
}

export interface DispatcherOptions {
  state: ChannelState;
  providers: Providers;
  policy: SendPolicy;
  /** The live version of a template. */
  templates: (id: string) => TemplateDefinition | undefined;
  /** The event that enrolled the user, for `event` in templates (null: not kept any more). */
  triggerEvent?: (profileKey: string, trigger: OutboxMessage['trigger']) => Promise<StoredEvent | null>;
  links: LinkSigner;
  /** Messages to channels without a provider go here. */
  sandbox: SandboxChannel;
  /**
   * Where channels without a provider would send (the channels file names them even when their
   * credentials are unset): the WeChat apps and the push providers. Unnamed: any app or push
   * provider the user has an address with.
   */
  sandboxAddresses?: SandboxAddresses;
  logger: Logger;
  /** Calls per second per provider name, across every process sharing the state. */
  rates?: Partial<Record<string, number>>;
  /** Sender address of email templates that name none. */
  emailFrom?: string;
  /** Users without a timezone. */
  timezone: string;
  now?: () => number;
  /** How long a claim is its holder's before it counts as a crashed call (default one minute). */
  leaseMs?: number;
  /** Calls in flight to one provider from this process at most (default 256): the rest wait their turn. */
  maxInFlight?: number;
  /** Gather SMS sent together into the provider's batch call (default true). */
  batch?: boolean;
}

export interface SandboxAddresses {
  wechat?: string;
  miniprogram?: string;
  push?: PushAddress['provider'][];
}

/** Where a message goes: which provider (null: the sandbox), the address in its form, the address as suppressed. */
interface Route {
  channel: string;
  providerName: string;
  provider: AnyProvider | null;
  address: unknown;
  /** The suppression list's key for the address. */
  addressKey: string;
  /** Which consent the channel reads. */
  consent: 'sms' | 'email' | 'push' | 'wechat';
}

/** The provider name of messages the sandbox records for a channel without a provider. */
const SANDBOX = 'sandbox';
/** How often the list of paused channels is read again. */
const ALERT_REFRESH_MS = 5_000;
/** How long a message waits when its channel is paused. */
const PAUSED_WAIT_MS = 5 * 60_000;
/** When an UNKNOWN outcome is first reconciled (give the provider's records time to show it). */
const RECONCILE_AFTER_MS = 30_000;

export class Dispatcher implements ChannelGateway {
  private readonly now: () => number;
  private readonly leaseMs: number;
  private paused = new Set<string>();
  private pausedReadAt = -Infinity;
  private readonly lanes = new Map<string, LimitFunction>();
  private readonly batchers = new Map<string, Batcher<unknown, unknown>>();

  constructor(private readonly options: DispatcherOptions) {
    this.now = options.now ?? Date.now;
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  async send(request: SendRequest): Promise<SendOutcome> {
    const { message, profile } = request;
    const route = this.route(message, profile);
    if (route === 'sandbox') return this.options.sandbox.send(request);
    if (route === null) return { status: 'skipped', reason: 'no_address' };
    const now = this.now();
    const held = await this.policyBeforeClaim(message, profile, route, now);
    if (held) return held;

    const claim = await this.options.state.claim({
      messageId: message.messageId,
      profileKey: profile.key,
      journeyId: message.journeyId,
      channel: route.channel,
      version: message.version,
      step: message.step,
      template: message.template,
      now,
      leaseMs: this.leaseMs,
    });
    switch (claim.kind) {
      case 'busy':
        return { status: 'busy' };
      case 'done':
        return outcomeOf(claim.record);
      case 'unknown':
        return this.reconcile(request, route, claim.record);
      case 'go':
        return this.deliver(request, route, claim.record);
    }
  }

  /** Renders, reserves caps and credits, waits for the provider's rate, calls, and acts on the answer. */
  private async deliver(request: SendRequest, route: Route, record: MessageRecord): Promise<SendOutcome> {
    const { message, profile } = request;
    const { state } = this.options;
    record.provider = route.providerName;
    let rendered: unknown;
    try {
      rendered = await this.render(request, route);
    } catch (error) {
      if (!(error instanceof RenderError)) throw error;
      return this.finish(record, 'failed', { reason: 'render_failed', code: error.message });
    }

    const transactional = message.transactional ?? false;
    const device = route.channel === 'push' ? (route.address as PushAddress).token : null;
    const windows = capWindows(this.options.policy, profile.key, route.channel, transactional, device);
    const reserved = await state.reserve(message.messageId, windows, this.now(), profile.key);
    if (!reserved.ok)
      return this.finish(record, 'skipped', { reason: 'frequency_capped', code: reserved.full });
    record.caps = windows.map((w) => w.key);

    const credit =
      route.channel === 'miniprogram'
        ? creditKey(route.address as WechatAddress, rendered as MiniprogramMessage)
        : null;
    if (credit !== null && !(await state.takeCredit(credit))) {
      await state.release(message.messageId, record.caps, profile.key);
      return this.finish(record, 'skipped', { reason: 'no_subscription_credit' });
    }

    if (route.provider === null) {
      this.options.sandbox.record(request, {
        channel: route.channel,
        address: maskAddress(route.addressKey),
        rendered,
      });
      const recorded: MessageRecord = { ...record, state: 'done', status: 'sandbox' };
      await state.settle(recorded);
      return outcomeOf(recorded);
    }
    const provider = route.provider;

    const rate = this.options.rates?.[route.providerName];
    if (rate) {
      const wait = await state.rateSlot(route.providerName, rate, this.now());
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }

    const delivery: Delivery<unknown, unknown> = {
      messageId: message.messageId,
      address: route.address,
      message: rendered,
      firstAttemptAt: record.firstAttemptAt,
    };
    let result: ProviderResult;
    try {
      const batcher = this.batcher(route);
      if (batcher) {
        const { batchId, ...answer } = await batcher.send(delivery);
        if (batchId) record.batchId = batchId;
        result = answer;
      } else result = await this.lane(route.providerName)(() => provider.send(delivery as never));
    } catch (error) {
      // An adapter that throws did not classify: its call may have gone out.
      result = { class: 'UNKNOWN', detail: (error as Error).message };
    }
    if (credit !== null && result.class !== 'OK' && result.class !== 'UNKNOWN') {
      // 43101: WeChat holds no credit for us, whatever we counted.
      if (result.code === '43101') await state.grantCredit(credit, 'reject');
      else await state.returnCredit(credit);
    }
    return this.act(request, route, record, result);
  }

  /** What a classified answer calls for. */
  private async act(
    request: SendRequest,
    route: Route,
    record: MessageRecord,
    result: ProviderResult,
  ): Promise<SendOutcome> {
    const { message } = request;
    const { state, logger } = this.options;
    const now = this.now();
    const code = result.code;
    const fields: Partial<MessageRecord> = {
      ...(result.providerId ? { providerId: result.providerId } : {}),
      ...(code ? { code } : {}),
      ...(result.segments !== undefined ? { segments: result.segments } : {}),
    };
    const release = () => state.release(message.messageId, record.caps ?? [], request.profile.key);
    switch (result.class) {
      case 'OK': {
        const index = result.providerId
          ? [
              `${route.providerName}:${result.providerId}`,
              `${route.providerName}:${result.providerId}:${route.addressKey}`,
            ]
          : [];
        const sent: MessageRecord = { ...record, ...fields, state: 'done', status: 'sent' };
        await state.settle(sent, index);
        return outcomeOf(sent);
      }
      case 'RETRY':
      case 'RETRY_LATER': {
        await state.settle({ ...record, ...fields, state: 'retry' });
        const wait = Math.max(result.retryAfterMs ?? 0, sendBackoff(message.attempts + 1));
        const reason = `${result.class === 'RETRY' ? 'provider_error' : 'provider_rate_limit'}${code ? `: ${code}` : ''}`;
        return { status: 'retry', reason, retryAt: now + jitter(wait) };
      }
      case 'PERM_RECIPIENT': {
        await release();
        let forgetPushToken: string | undefined;
        if (route.channel === 'push') forgetPushToken = (route.address as PushAddress).token;
        else if (route.channel !== 'miniprogram') {
          await state.suppress(route.consent, route.addressKey, {
            reason: `${route.providerName}:${code ?? 'recipient'}`,
            at: now,
          });
        }
        logger.info(
          {
            messageId: message.messageId,
            provider: route.providerName,
            code,
            address: maskAddress(route.addressKey),
          },
          'recipient refused permanently: address suppressed',
        );
        return this.finish(record, 'failed', {
          ...fields,
          reason: 'recipient_rejected',
          ...(forgetPushToken ? { forgetPushToken } : {}),
        });
      }
      case 'PERM_MESSAGE':
        await release();
        return this.finish(record, 'failed', { ...fields, reason: 'message_rejected' });
      case 'REFRESH_TOKEN':
      case 'PERM_CONFIG': {
        await release();
        const alert = {
          id: `${message.journeyId}:${route.channel}`,
          journeyId: message.journeyId,
          channel: route.channel,
          provider: route.providerName,
          code: code ?? result.class,
          detail: result.detail ?? '',
          at: now,
        };
        await state.raiseAlert(alert);
        this.paused.add(alert.id);
        logger.error(
          alert,
          `provider ${route.providerName} refused its configuration: the journey's ${route.channel} sends are paused`,
        );
        return this.finish(record, 'failed', { ...fields, reason: 'provider_config' });
      }
      case 'UNKNOWN': {
        if (route.provider?.reconcile) {
          await state.settle({ ...record, ...fields, state: 'unknown' });
          return { status: 'retry', reason: 'unknown_outcome', retryAt: now + RECONCILE_AFTER_MS };
        }
        await release();
        return this.finish(record, 'unknown', { ...fields, reason: 'unknown_outcome' });
      }
    }
  }

  /** A message whose earlier call may have reached the provider: ask before anything else. */
  private async reconcile(request: SendRequest, route: Route, record: MessageRecord): Promise<SendOutcome> {
    const { provider } = route;
    if (!provider?.reconcile) return this.finish(record, 'unknown', { reason: 'unknown_outcome' });
    const delivery = {
      messageId: record.messageId,
      address: route.address,
      message: await this.render(request, route).catch(() => undefined),
      firstAttemptAt: record.firstAttemptAt,
      ...(record.batchId ? { batchId: record.batchId } : {}),
    };
    let found: ProviderResult | null;
    try {
      found = await provider.reconcile(delivery as never);
    } catch (error) {
      return {
        status: 'retry',
        reason: `reconcile_failed: ${(error as Error).message}`,
        retryAt: this.now() + 60_000,
      };
    }
    if (found === null) {
      // The provider never took it: sending is safe.
      await this.options.state.settle({ ...record, state: 'retry' });
      const claim = await this.options.state.claim({
        messageId: record.messageId,
        profileKey: request.profile.key,
        journeyId: record.journeyId,
        channel: record.channel,
        version: request.message.version,
        step: request.message.step,
        template: request.message.template,
        now: this.now(),
        leaseMs: this.leaseMs,
      });
      if (claim.kind === 'done') return outcomeOf(claim.record);
      if (claim.kind !== 'go') return { status: 'busy' };
      return this.deliver(request, route, claim.record);
    }
    if (found.class === 'UNKNOWN') return this.finish(record, 'unknown', { reason: 'unknown_outcome' });
    return this.act(request, route, { ...record, state: 'sending' }, found);
  }

  /** Settles a message for good and answers its outcome. */
  private async finish(
    record: MessageRecord,
    status: 'failed' | 'skipped' | 'unknown',
    fields: Partial<MessageRecord> & { reason: string; forgetPushToken?: string },
  ): Promise<SendOutcome> {
    const { forgetPushToken, ...kept } = fields;
    const settled: MessageRecord = { ...record, ...kept, state: 'done', status };
    await this.options.state.settle(settled);
    const outcome = outcomeOf(settled);
    return forgetPushToken && outcome.status === 'failed' ? { ...outcome, forgetPushToken } : outcome;
  }

  /** Consent, suppression, quiet hours, the promotional SMS window and paused channels. */
  private async policyBeforeClaim(
    message: OutboxMessage,
    profile: Readonly<Profile>,
    route: Route,
    now: number,
  ): Promise<SendOutcome | null> {
    if (profile.consent[route.consent]?.granted === false) return { status: 'skipped', reason: 'no_consent' };
    if (await this.options.state.suppressed(route.consent, route.addressKey)) {
      return { status: 'skipped', reason: 'suppressed' };
    }
    const timezone = profile.timezone ?? this.options.timezone;
    if (message.quietHours) {
      const until = quietEnd(message.quietHours, now, timezone);
      if (until !== null) {
        return message.quietHours.action === 'drop'
          ? { status: 'skipped', reason: 'quiet_hours' }
          : { status: 'deferred', reason: 'quiet_hours', retryAt: until };
      }
    }
    if (route.channel === 'sms' && !message.transactional) {
      const until = promotionalSmsWait(this.options.policy, now, profile.timezone);
      if (until !== null) return { status: 'deferred', reason: 'promotional_sms_hours', retryAt: until };
    }
    if (await this.isPaused(`${message.journeyId}:${route.channel}`, now)) {
      return { status: 'deferred', reason: 'channel_paused', retryAt: now + PAUSED_WAIT_MS };
    }
    return null;
  }

  /** Gathers a provider's deliveries into batch calls, when it takes them (SMS: per template). */
  private batcher(route: Route): Batcher<unknown, unknown> | null {
    const provider = route.provider as ChannelProvider<unknown, unknown> | null;
    if (!provider?.sendBatch || route.channel !== 'sms' || this.options.batch === false) return null;
    let batcher = this.batchers.get(route.providerName);
    if (!batcher) {
      const lane = this.lane(route.providerName);
      batcher = new Batcher<unknown, unknown>({
        provider: provider as ChannelProvider<unknown, unknown> &
          Required<Pick<ChannelProvider<unknown, unknown>, 'sendBatch'>>,
        groupOf: (d) => (d.message as SmsMessage).templateCode,
        name: async (ids, batchId) => {
          await Promise.all(ids.map((id) => this.options.state.update(id, { batchId })));
        },
        call: (fn) => lane(fn),
      });
      this.batchers.set(route.providerName, batcher);
    }
    return batcher;
  }

  /** The provider's lane: at most `maxInFlight` calls at once from this process. */
  private lane(provider: string): LimitFunction {
    let lane = this.lanes.get(provider);
    if (!lane) this.lanes.set(provider, (lane = pLimit(this.options.maxInFlight ?? 256)));
    return lane;
  }

  private async isPaused(id: string, now: number): Promise<boolean> {
    if (now - this.pausedReadAt > ALERT_REFRESH_MS) {
      this.paused = new Set((await this.options.state.alerts()).map((a) => a.id));
      this.pausedReadAt = now;
    }
    return this.paused.has(id);
  }

  /**
   * The provider and address for the message's channel (a null provider: the sandbox, which resolves
   * the address as the channel would); null: the user has no address there; `sandbox`: the sandbox
   * channel itself.
   */
  private route(message: OutboxMessage, profile: Readonly<Profile>): Route | 'sandbox' | null {
    const { providers, sandboxAddresses = {} } = this.options;
    const provider = (p: AnyProvider | undefined) =>
      p ? { providerName: p.name, provider: p } : { providerName: SANDBOX, provider: null };
    // SMS and email: the address is a string, and its canonical form is the suppression list's key.
    const byAddress = (channel: 'sms' | 'email', p: AnyProvider | undefined, address: string | null) =>
      address === null ? null : { channel, ...provider(p), address, addressKey: address, consent: channel };
    switch (message.channel) {
      case 'sms':
        return byAddress('sms', providers.sms as AnyProvider | undefined, phoneOf(profile));
      case 'email':
        return byAddress('email', providers.email as AnyProvider | undefined, emailOf(profile));
      case 'push': {
        const push = providers.push ?? {};
        const configured = Object.keys(push) as PushAddress['provider'][];
        const names = new Set(
          configured.length > 0 ? configured : (sandboxAddresses.push ?? ['fcm', 'apns', 'jpush']),
        );
        const device = deviceOf(profile, names);
        if (device === null) return null;
        return {
          channel: 'push',
          ...provider(push[device.provider] as AnyProvider | undefined),
          address: device,
          addressKey: device.token,
          consent: 'push',
        };
      }
      case 'wechat':
      case 'miniprogram': {
        const app = providers[message.channel];
        const appId = app?.appId ?? sandboxAddresses[message.channel] ?? Object.keys(profile.wechat)[0];
        const openId = appId === undefined ? null : openIdOf(profile, appId);
        return openId === null
          ? null
          : {
              channel: message.channel,
              ...provider(app?.provider as AnyProvider | undefined),
              address: openId,
              addressKey: openId.openId,
              consent: 'wechat',
            };
      }
      case 'sandbox':
        return 'sandbox';
    }
  }

  /** The template rendered with the profile, the trigger and the journey, in the provider's shape. */
  private async render(request: SendRequest, route: Route): Promise<unknown> {
    const { message, profile } = request;
    const template = this.options.templates(message.template);
    if (!template) throw new RenderError(`template ${message.template} is not published`, '');
    const { links } = this.options;
    // Sealed only where it is used: an email's unsubscribe header, or a template that reads `links`
    // (an SMS's reply-to-opt-out text needs none).
    const unsubscribe =
      route.channel === 'email' || (route.channel === 'sms' && readsLinks(template))
        ? links.unsubscribeUrl({
            profileKey: profile.key,
            channel: route.consent,
            address: route.addressKey,
            messageId: message.messageId,
          })
        : null;
    const event = readsEvent(template)
      ? ((await this.options.triggerEvent?.(profile.key, message.trigger)) ?? null)
      : null;
    const content = renderContent(
      template,
      {
        profile: profileScope(profile),
        event: event
          ? {
              name: event.event,
              properties: event.properties ?? {},
              timestamp: new Date(event.timestamp).toISOString(),
            }
          : { name: null, properties: {}, timestamp: null },
        journey: { id: message.journeyId, version: message.version, step: message.step },
        message: { id: message.messageId, channel: route.channel },
        links: { unsubscribe },
      },
      (url) => links.clickUrl({ messageId: message.messageId, url }),
    ) as unknown as JsonObject;
    return providerMessage(route.channel, content, {
      messageId: message.messageId,
      ...(this.options.emailFrom ? { emailFrom: this.options.emailFrom } : {}),
      unsubscribe,
      marketing: !(message.transactional ?? false),
    });
  }
}

/** ±20%, so that messages refused together do not come back together. */
const jitter = (ms: number): number => Math.round(ms * (0.8 + Math.random() * 0.4));

/** The outcome a settled record stands for (a message handed over again answers the same). */
function outcomeOf(record: MessageRecord): SendOutcome {
  switch (record.status) {
    case 'sandbox':
      return { status: 'sandbox' };
    case 'sent':
      return {
        status: 'sent',
        ...(record.provider ? { provider: record.provider } : {}),
        ...(record.providerId ? { providerId: record.providerId } : {}),
        ...(record.segments !== undefined ? { segments: record.segments } : {}),
      };
    case 'skipped':
      return { status: 'skipped', reason: record.reason ?? 'skipped' };
    case 'unknown':
      return { status: 'unknown', reason: record.reason ?? 'unknown_outcome' };
    default:
      return {
        status: 'failed',
        reason: record.reason ?? 'failed',
        ...(record.code ? { code: record.code } : {}),
      };
  }
}
