import type { Logger } from 'pino';
import { type ChannelsConfig, loadChannels, sandboxAddresses } from '../../channels/config.ts';
import { Dispatcher } from '../../channels/dispatcher.ts';
import { LinkSigner } from '../../channels/links.ts';
import { buildProviders } from '../../channels/registry.ts';
import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';
import type { ChannelState } from '../../ports/channel-state.ts';
import type { Store } from '../../ports/store.ts';
import type { Workspace } from '../../workspace/workspace.ts';
import type { Config } from '../config.ts';
import { type Closers, openChannelState } from './backends.ts';

/** The send side every process shares: the channels file, the channel state, the link signer. */
export interface Channels {
  config: ChannelsConfig;
  state: ChannelState;
  links: LinkSigner;
}

export async function openChannels(
  config: Config,
  closers: Closers,
  logger: Logger,
  /** Wraps the channel state (the metrics count the sends it records). */
  watch: (state: ChannelState) => ChannelState = (state) => state,
): Promise<Channels> {
  const channels = await loadChannels(config.channelsFile);
  const state = watch(await openChannelState(config, closers));
  const configured = Object.keys(channels.providers);
  logger.info(
    { providers: configured, missing: channels.missing },
    configured.length > 0
      ? `channel providers: ${configured.join(', ')}; other channels go to the sandbox`
      : 'no channel providers configured: every message goes to the sandbox',
  );
  return { config: channels, state, links: new LinkSigner(config.publicUrl, config.linkSecret) };
}

/** A worker's gateway: the dispatcher over the configured providers (only workers open provider connections). */
export function openGateway(
  config: Config,
  channels: Channels,
  store: Store,
  workspace: () => Workspace,
  closers: Closers,
  logger: Logger,
): ChannelGateway {
  const built = buildProviders(channels.config);
  closers.push(() => built.close());
  return new Dispatcher({
    state: channels.state,
    providers: built.providers,
    policy: channels.config.policy,
    rates: built.rates,
    ...(built.emailFrom ? { emailFrom: built.emailFrom } : {}),
    templates: (id) => workspace().templates.get(id),
    triggerEvent: async (key, trigger) =>
      (await store.recentEvents(key, 500, trigger.at)).find((e) => e.messageId === trigger.messageId) ?? null,
    links: channels.links,
    sandbox: new SandboxChannel(),
    sandboxAddresses: sandboxAddresses(channels.config),
    logger,
    timezone: config.timezone,
  });
}
