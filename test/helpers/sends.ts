import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import { httpWebhookCaller } from '../../engine/adapters/webhooks/http.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';

/** A worker's send side for tests: messages to the sandbox (or `gateway`), webhooks over real HTTP. */
export const sendsTo = (gateway: ChannelGateway = new SandboxChannel()) => ({
  gateway,
  callWebhook: httpWebhookCaller,
});
