import { SandboxChannel } from '../../channels/sandbox/sandbox.ts';
import { webhookCaller } from '../../engine/adapters/webhooks/http.ts';
import type { ChannelGateway } from '../../ports/channel-gateway.ts';

/**
 * A worker's send side for tests: messages to the sandbox (or `gateway`), webhooks over real HTTP to
 * the tests' receivers on loopback (which webhooks may not reach by default).
 */
export const sendsTo = (gateway: ChannelGateway = new SandboxChannel()) => ({
  gateway,
  callWebhook: webhookCaller({ allow: ['127.0.0.1'] }),
});
