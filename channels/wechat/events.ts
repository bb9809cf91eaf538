/**
 * WeChat pushes as inbound facts: follows, scans, menu use and locations become
 * Segment calls for the openid, consent changes identify calls and opt-outs, and send results and
 * subscription answers receipts and subscription facts.
 */
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import type { JsonObject } from '../../model/json.ts';
import type { CallFact, InboundFact, ReceiptFact } from '../inbound.ts';
import { parseWechatJson } from './json.ts';

/** A parsed push: every value a string (numbers as sent), repeated or nested fields as arrays / objects. */
export type WechatNode = string | WechatMessage | WechatNode[];
export interface WechatMessage {
  [field: string]: WechatNode;
}

// parseTagValue off: ids and times stay strings, 64-bit MsgIDs keep every digit.
const xmlParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false });

/** An XML push (`<xml>…</xml>`) or a Mini Program JSON push; null when it is neither. */
export function parseMessage(xmlOrJson: string): WechatMessage | null {
  const text = xmlOrJson.trim();
  try {
    if (text.startsWith('<')) return asMessage(toNode((xmlParser.parse(text) as { xml?: unknown }).xml));
    if (text.startsWith('{')) return asMessage(toNode(parseWechatJson(text)));
  } catch {}
  return null;
}

/**
 * The push's identity across WeChat's retries: `wechat:<MsgId>` when it has one, else
 * `wechat:<FromUserName>:<CreateTime>:<Event>[:<EventKey>]`; null without sender or time.
 */
export function messageDedupeKey(message: WechatMessage): string | null {
  const msgId = field(message, 'MsgId') ?? field(message, 'MsgID');
  if (msgId) return `wechat:${msgId}`;
  const from = field(message, 'FromUserName');
  const time = field(message, 'CreateTime');
  if (!from || !time) return null;
  const eventKey = field(message, 'EventKey');
  const event = field(message, 'Event') ?? field(message, 'MsgType') ?? '';
  return ['wechat', from, time, event, ...(eventKey ? [eventKey] : [])].join(':');
}

/**
 * The facts of one push for the app `appId`. Each fact's dedupeKey is the push's key plus the
 * fact (`…/track:wechat_follow`), and a call's messageId is derived from it: a retried push gives
 * the same keys and ids. Plain user messages and unknown events give none.
 */
export function wechatFacts(message: WechatMessage, appId: string): InboundFact[] {
  const openId = field(message, 'FromUserName');
  const createTime = field(message, 'CreateTime') ?? '';
  const key = messageDedupeKey(message);
  if (field(message, 'MsgType') !== 'event' || !openId || !key || !/^\d+$/.test(createTime)) return [];
  const at = Number(createTime) * 1000;
  const eventKey = field(message, 'EventKey');

  const call = (
    suffix: string,
    fields: Pick<CallFact['call'], 'type' | 'event' | 'properties' | 'traits'>,
  ): CallFact => {
    const dedupeKey = `${key}/${suffix}`;
    const context = { wechat: { appId, openId } };
    return {
      kind: 'call',
      call: { ...fields, messageId: factMessageId(dedupeKey), anonymousId: openId, context, timestamp: at },
      dedupeKey,
    };
  };
  const track = (event: string, properties: JsonObject, suffix = '') =>
    call(`track:${event}${suffix}`, { type: 'track', event, properties });
  const consent = (wechat: boolean) =>
    call('identify', { type: 'identify', traits: { consent: { wechat } } });

  switch (field(message, 'Event')) {
    case 'subscribe': {
      const scene = eventKey?.startsWith('qrscene_') ? eventKey.slice('qrscene_'.length) : undefined;
      if (!scene) return [track('wechat_follow', { appId }), consent(true)];
      return [
        track('wechat_follow', { appId, scene }),
        consent(true),
        track('qr_scan', { appId, scene, newFollower: true }),
      ];
    }
    case 'unsubscribe':
      return [
        track('wechat_unfollow', { appId }),
        consent(false),
        { kind: 'optout', channel: 'wechat', address: openId, at, dedupeKey: `${key}/optout` },
      ];
    case 'SCAN':
      return eventKey ? [track('qr_scan', { appId, scene: eventKey })] : [];
    case 'LOCATION': {
      const properties: JsonObject = {};
      for (const [name, tag] of [
        ['latitude', 'Latitude'],
        ['longitude', 'Longitude'],
        ['precision', 'Precision'],
      ]) {
        const value = Number(field(message, tag) ?? NaN);
        if (Number.isFinite(value)) properties[name] = value;
      }
      return [track('wechat_location', properties)];
    }
    case 'CLICK':
      return [track('wechat_menu_click', eventKey !== undefined ? { key: eventKey } : {})];
    case 'VIEW':
      return [track('wechat_menu_view', eventKey !== undefined ? { url: eventKey } : {})];
    case 'TEMPLATESENDJOBFINISH': {
      const msgId = field(message, 'MsgID') ?? field(message, 'MsgId');
      const status = field(message, 'Status');
      if (!msgId) return [];
      return [receipt('wechat', msgId, status === 'success', status, at, `${key}/receipt`)];
    }
    case 'subscribe_msg_popup_event':
    case 'subscribe_msg_change_event': {
      const container =
        message.Event === 'subscribe_msg_popup_event' ? 'SubscribeMsgPopupEvent' : 'SubscribeMsgChangeEvent';
      return listItems(message, container).flatMap((item): InboundFact[] => {
        const templateId = field(item, 'TemplateId');
        const status = field(item, 'SubscribeStatusString');
        if (!templateId || !status) return [];
        const facts: InboundFact[] = [track('wechat_subscription', { templateId, status }, `:${templateId}`)];
        // Other answers (`ban`, `filter`) neither grant nor take back a credit.
        if (status === 'accept' || status === 'reject')
          facts.push({
            kind: 'subscription',
            appId,
            openId,
            templateId,
            status,
            at,
            dedupeKey: `${key}/subscription:${templateId}`,
          });
        return facts;
      });
    }
    case 'subscribe_msg_sent_event':
      return listItems(message, 'SubscribeMsgSentEvent').flatMap((item) => {
        const msgId = field(item, 'MsgID') ?? field(item, 'MsgId');
        const errorCode = field(item, 'ErrorCode');
        if (!msgId) return [];
        const code = field(item, 'ErrorStatus') ?? errorCode;
        return [receipt('miniprogram', msgId, errorCode === '0', code, at, `${key}/receipt:${msgId}`)];
      });
    default:
      return [];
  }
}

function receipt(
  provider: string,
  providerId: string,
  delivered: boolean,
  code: string | undefined,
  at: number,
  dedupeKey: string,
): ReceiptFact {
  return { kind: 'receipt', provider, providerId, delivered, ...(code ? { code } : {}), at, dedupeKey };
}

function factMessageId(dedupeKey: string): string {
  return `wx-${createHash('sha256').update(dedupeKey).digest('hex').slice(0, 24)}`;
}

function field(node: WechatMessage, name: string): string | undefined {
  const value = node[name];
  return typeof value === 'string' ? value : undefined;
}

/** The `List` items of a subscription event: under its container in XML, at the top in JSON; one or many. */
function listItems(message: WechatMessage, container: string): WechatMessage[] {
  const holder = message[container];
  const list = message.List ?? (isMessage(holder) ? holder.List : undefined);
  return (Array.isArray(list) ? list : [list]).filter(isMessage);
}

function isMessage(node: WechatNode | undefined): node is WechatMessage {
  return typeof node === 'object' && !Array.isArray(node);
}

function asMessage(node: WechatNode | undefined): WechatMessage | null {
  return isMessage(node) ? node : null;
}

function toNode(value: unknown): WechatNode | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) return value.map(toNode).filter((node) => node !== undefined);
      const message: WechatMessage = {};
      for (const [name, inner] of Object.entries(value)) {
        const node = toNode(inner);
        if (node !== undefined) message[name] = node;
      }
      return message;
    }
    default:
      return undefined;
  }
}
