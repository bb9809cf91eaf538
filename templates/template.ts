import type { SendChannel } from '../model/channels.ts';

// The message template document (schemas/template.schema.json). Content values may hold LiquidJS
// placeholders (`{{ profile.traits.name }}`).

interface TemplateBase<C extends SendChannel, Content> {
  $schema?: string;
  id: string;
  version: number;
  name: string;
  description?: string;
  channel: C;
  content: Content;
  /** Example values for previews and limit checks (`profile`, `event`, ...). */
  sample?: Record<string, unknown>;
}

export interface SmsContent {
  signName: string;
  templateCode: string;
  params: Record<string, string>;
  /** What the message reads like, for previews. */
  text?: string;
}

/** At least one of `html` and `text`. */
export interface EmailContent {
  from?: string;
  subject: string;
  html?: string;
  text?: string;
}

export interface PushContent {
  title: string;
  body: string;
  data?: Record<string, string>;
  imageUrl?: string;
  deepLink?: string;
}

export interface WechatContent {
  templateId: string;
  url?: string;
  miniprogram?: { appid: string; pagepath: string };
  data: Record<string, string>;
}

export interface MiniprogramContent {
  templateId: string;
  page?: string;
  data: Record<string, string>;
}

export interface SandboxContent {
  text: string;
}

export type TemplateDefinition =
  | TemplateBase<'sms', SmsContent>
  | TemplateBase<'email', EmailContent>
  | TemplateBase<'push', PushContent>
  | TemplateBase<'wechat', WechatContent>
  | TemplateBase<'miniprogram', MiniprogramContent>
  | TemplateBase<'sandbox', SandboxContent>;
