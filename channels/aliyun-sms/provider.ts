/**
 * Aliyun SMS (dysmsapi 2017-05-25) through the official SDK: SendSms, SendBatchSms, and
 * QuerySendDetails to reconcile a send whose outcome is unknown.
 */
import sdk from '@alicloud/dysmsapi20170525';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import type { ChannelProvider, Delivery, ProviderResult, SmsMessage } from '../provider.ts';
import { classifyAnswer, classifyError, type SendAnswer } from './classify.ts';
import { smsDestination, smsLength } from '../../templates/sms-segments.ts';
import { sendDates } from './shanghai.ts';

const { default: Dysmsapi, SendSmsRequest, SendBatchSmsRequest, QuerySendDetailsRequest } = sdk;

/** The most numbers one SendBatchSms takes. */
export const MAX_BATCH_SIZE = 100;

/** QuerySendDetails' largest page. */
const PAGE_SIZE = 50;
/** A send made just before midnight may be dated the next day on Aliyun's side. */
const MIDNIGHT_MARGIN_MS = 10 * 60_000;
/** How far back QuerySendDetails can look. */
const DETAILS_KEPT_MS = 30 * 24 * 3_600_000;

export interface AliyunSmsConfig {
  accessKeyId: string;
  accessKeySecret: string;
  /** `host[:port]`, no scheme (it is the Host header too). Default `dysmsapi.aliyuncs.com`. */
  endpoint?: string;
  /** Default `https`; `http` for a local fake. */
  protocol?: 'https' | 'http';
  /**
   * Milliseconds, default 5,000. The SDK's HTTP layer (httpx) uses it as the socket's idle timeout,
   * so it also bounds the wait for the answer: keep it at least `readTimeout`.
   */
  connectTimeout?: number;
  /** Milliseconds, default 5,000 (the SDK recommends at least 1 s for sends). */
  readTimeout?: number;
  /** The clock that dates quota windows and reconciliation; default `Date.now`. */
  now?: () => number;
}

/**
 * One Aliyun account. The SDK signs every request (ACS3-HMAC-SHA256) and never retries: retry
 * options stay unset, since SendSms is not idempotent and the dispatcher owns retries. Connections
 * are kept alive by the SDK's HTTP layer (httpx's shared keep-alive agent), for every client in the
 * process: there is no pool of our own to close.
 */
export class AliyunSmsProvider implements ChannelProvider<string, SmsMessage> {
  readonly name = 'aliyun-sms';
  private readonly client: InstanceType<typeof Dysmsapi>;
  private readonly now: () => number;

  constructor(config: AliyunSmsConfig) {
    this.client = new Dysmsapi(
      new $OpenApiUtil.Config({
        accessKeyId: config.accessKeyId,
        accessKeySecret: config.accessKeySecret,
        endpoint: config.endpoint ?? 'dysmsapi.aliyuncs.com',
        protocol: config.protocol ?? 'https',
        connectTimeout: config.connectTimeout ?? 5_000,
        readTimeout: config.readTimeout ?? 5_000,
      }),
    );
    this.now = config.now ?? Date.now;
  }

  async send(delivery: Delivery<string, SmsMessage>): Promise<ProviderResult> {
    const { signName, templateCode, params } = delivery.message;
    const request = new SendSmsRequest({
      phoneNumbers: delivery.address,
      signName,
      templateCode,
      templateParam: hasParams(params) ? JSON.stringify(params) : undefined,
      outId: delivery.messageId,
    });
    return withSegments(await this.outcome(() => this.client.sendSms(request)), delivery);
  }

  /**
   * One SendBatchSms for up to 100 deliveries of one template; its one answer is every delivery's.
   * The batch's OutId is the deliveries' `batchId` (else the first message id): give every delivery
   * of a batch the same `batchId`, or only the first can be reconciled.
   */
  async sendBatch(deliveries: Delivery<string, SmsMessage>[]): Promise<ProviderResult[]> {
    if (deliveries.length === 0) return [];
    if (deliveries.length > MAX_BATCH_SIZE)
      throw new Error(
        `aliyun-sms: a batch takes at most ${MAX_BATCH_SIZE} deliveries, got ${deliveries.length}`,
      );
    const [first] = deliveries;
    const templates = new Set(deliveries.map((d) => d.message.templateCode));
    if (templates.size > 1)
      throw new Error(`aliyun-sms: a batch has one template, got ${[...templates].join(', ')}`);
    if (deliveries.some((d) => d.batchId !== first.batchId))
      throw new Error('aliyun-sms: the deliveries of a batch must share one batchId');
    const request = new SendBatchSmsRequest({
      templateCode: first.message.templateCode,
      outId: first.batchId ?? first.messageId,
      phoneNumberJson: JSON.stringify(deliveries.map((d) => d.address)),
      signNameJson: JSON.stringify(deliveries.map((d) => d.message.signName)),
      templateParamJson: deliveries.some((d) => hasParams(d.message.params))
        ? JSON.stringify(deliveries.map((d) => d.message.params))
        : undefined,
    });
    const outcome = await this.outcome(() => this.client.sendBatchSms(request));
    return deliveries.map((d) => withSegments(outcome, d));
  }

  /**
   * Looks for the message in QuerySendDetails on every send date from the first attempt's (a later
   * attempt may have gone out on a later day) to today's, or the next day's when the attempt was
   * made just before midnight; within the 30 days Aliyun keeps. Found in any state means taken: it
   * must not be sent again. Throws when the query fails.
   */
  async reconcile(delivery: Delivery<string, SmsMessage>): Promise<ProviderResult | null> {
    const outIds = new Set([delivery.messageId, delivery.batchId].filter((x) => x !== undefined));
    const now = this.now();
    const from = Math.max(delivery.firstAttemptAt, now - DETAILS_KEPT_MS);
    for (const date of sendDates(from, Math.max(now, delivery.firstAttemptAt + MIDNIGHT_MARGIN_MS))) {
      for (let page = 1, seen = 0, total = Infinity; seen < total; page++) {
        const body = await this.querySendDetails(delivery.address, date, page);
        const records = body.smsSendDetailDTOs?.smsSendDetailDTO ?? [];
        const found = records.find((x) => x.outId !== undefined && outIds.has(x.outId));
        if (found)
          return withSegments(
            {
              class: 'OK',
              ...(found.errCode ? { code: found.errCode } : {}),
              detail: `SendStatus ${found.sendStatus}`,
            },
            delivery,
          );
        if (records.length === 0) break;
        seen += records.length;
        total = Number(body.totalCount ?? 0);
      }
    }
    return null;
  }

  /** One page of QuerySendDetails; throws, without the URL and its phone number, when it fails. */
  private async querySendDetails(phoneNumber: string, sendDate: string, currentPage: number) {
    const request = new QuerySendDetailsRequest({ phoneNumber, sendDate, pageSize: PAGE_SIZE, currentPage });
    let failure: ProviderResult;
    try {
      const r = await this.client.querySendDetails(request);
      if (r.body?.code === 'OK') return r.body;
      failure = classifyAnswer(r.body ?? {}, this.now());
    } catch (error) {
      failure = classifyError(error);
    }
    throw new Error(
      `aliyun-sms: QuerySendDetails failed: ${failure.code ?? failure.class} ${failure.detail}`,
    );
  }

  private async outcome(call: () => Promise<{ body?: SendAnswer }>): Promise<ProviderResult> {
    try {
      const r = await call();
      return classifyAnswer(r.body ?? {}, this.now());
    } catch (error) {
      return classifyError(error);
    }
  }
}

function hasParams(params: Record<string, string>): boolean {
  return Object.keys(params).length > 0;
}

/** Accepted messages carry the segments they are billed for, when the text is known. */
function withSegments(result: ProviderResult, delivery: Delivery<string, SmsMessage>): ProviderResult {
  // The dispatcher reconciles without a message when it can no longer render it.
  const text = delivery.message?.text;
  if (result.class !== 'OK' || text === undefined) return result;
  return { ...result, segments: smsLength(text, smsDestination(delivery.address)).segments };
}
