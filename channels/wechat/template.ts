/**
 * Official / Service Account template messages:
 * `POST /cgi-bin/message/template/send`, with our message id as `client_msg_id`.
 */
import { createHash } from 'node:crypto';
import type {
  ChannelProvider,
  Delivery,
  ProviderResult,
  WechatAddress,
  WechatTemplateMessage,
} from '../provider.ts';
import { keywordData, WechatApi, type WechatApiOptions } from './api.ts';

/**
 * WeChat does not document a length limit for the template `client_msg_id`; the mass-send
 * `clientmsgid` is limited to 64 bytes (45067 "too long"), so ids are kept to 64 printable ASCII
 * characters and longer ones are replaced by their SHA-256 (64 hex characters).
 */
export const CLIENT_MSG_ID_MAX = 64;

/**
 * WeChat sends one message per openid + client_msg_id within 10 minutes of the first. Re-sending
 * until 9 minutes after our first attempt leaves a minute for clock skew and the request itself.
 */
export const RESEND_WINDOW_MS = 9 * 60_000;

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

export function clientMsgId(messageId: string): string {
  if (messageId.length <= CLIENT_MSG_ID_MAX && PRINTABLE_ASCII.test(messageId)) return messageId;
  return createHash('sha256').update(messageId).digest('hex');
}

export class WechatTemplateProvider implements ChannelProvider<WechatAddress, WechatTemplateMessage> {
  readonly name = 'wechat';
  private readonly api: WechatApi;

  constructor(options: WechatApiOptions) {
    this.api = new WechatApi(options);
  }

  send({
    messageId,
    address,
    message,
  }: Delivery<WechatAddress, WechatTemplateMessage>): Promise<ProviderResult> {
    const body = {
      touser: address.openId,
      template_id: message.templateId,
      ...(message.url !== undefined ? { url: message.url } : {}),
      ...(message.miniprogram !== undefined ? { miniprogram: message.miniprogram } : {}),
      client_msg_id: clientMsgId(messageId),
      data: keywordData(message.data),
    };
    return this.api.call(address.appId, '/cgi-bin/message/template/send', body, { idempotent: true });
  }

  /**
   * WeChat cannot be asked whether a template message was taken; instead, within the dedupe window
   * the same message is sent again and its answer returned (a taken one answers ok with its first
   * msgid and is not delivered twice). Past the window it is never re-sent blindly: UNKNOWN.
   */
  async reconcile(delivery: Delivery<WechatAddress, WechatTemplateMessage>): Promise<ProviderResult> {
    if (this.api.now() - delivery.firstAttemptAt > RESEND_WINDOW_MS)
      return { class: 'UNKNOWN', detail: 'past the client_msg_id dedupe window: not re-sent' };
    return this.send(delivery);
  }
}
