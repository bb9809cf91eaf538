/**
 * A template's rendered content in the shape its provider takes: the sender and the one-click
 * unsubscribe of an email, the category and collapse key of a push. The dispatcher and the test
 * send shape messages the same way, so a test send is what a journey would hand the provider.
 */
import type { Json, JsonObject } from '../model/json.ts';
import type { EmailMessage, PushMessage } from './provider.ts';

export interface MessageShape {
  messageId: string;
  /** Sender of email templates that name none. */
  emailFrom?: string;
  /** The one-click unsubscribe URL of a marketing email, if any. */
  unsubscribe: string | null;
  marketing: boolean;
}

export function providerMessage(channel: string, content: JsonObject, shape: MessageShape): unknown {
  switch (channel) {
    case 'email':
      return {
        from: typeof content.from === 'string' ? content.from : (shape.emailFrom ?? ''),
        subject: String(content.subject),
        ...(typeof content.html === 'string' ? { html: content.html } : {}),
        ...(typeof content.text === 'string' ? { text: content.text } : {}),
        ...(shape.marketing && shape.unsubscribe ? { unsubscribeUrl: shape.unsubscribe } : {}),
      } satisfies EmailMessage;
    case 'push':
      return {
        title: content.title as string,
        body: content.body as string,
        data: (content.data as Record<string, string> | undefined) ?? {},
        ...(content.imageUrl ? { imageUrl: content.imageUrl as string } : {}),
        ...(content.deepLink ? { deepLink: content.deepLink as string } : {}),
        category: shape.marketing ? 'marketing' : 'transactional',
        collapseKey: shape.messageId,
      } satisfies PushMessage;
    default:
      return content as Json;
  }
}
