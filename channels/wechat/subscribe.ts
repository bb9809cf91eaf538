/**
 * Mini Program subscribe messages: `POST /cgi-bin/message/subscribe/send`.
 * Each send spends one of the user's credits for the template (43101 when none is left). There is
 * no dedupe key, so there is no `reconcile`: after a timeout (UNKNOWN) the message is never sent
 * again, and neither after a 5xx, which may have come after the send was executed.
 */
import type {
  ChannelProvider,
  Delivery,
  MiniprogramMessage,
  ProviderResult,
  WechatAddress,
} from '../provider.ts';
import { keywordData, WechatApi, type WechatApiOptions } from './api.ts';

export class MiniprogramSubscribeProvider implements ChannelProvider<WechatAddress, MiniprogramMessage> {
  readonly name = 'miniprogram';
  private readonly api: WechatApi;

  constructor(options: WechatApiOptions) {
    this.api = new WechatApi(options);
  }

  send({ address, message }: Delivery<WechatAddress, MiniprogramMessage>): Promise<ProviderResult> {
    const body = {
      touser: address.openId,
      template_id: message.templateId,
      ...(message.page !== undefined ? { page: message.page } : {}),
      ...(message.miniprogramState !== undefined ? { miniprogram_state: message.miniprogramState } : {}),
      ...(message.lang !== undefined ? { lang: message.lang } : {}),
      data: keywordData(message.data),
    };
    return this.api.call(address.appId, '/cgi-bin/message/subscribe/send', body, { idempotent: false });
  }
}
