import { post, unanswered } from '../http.ts';
import type { ChannelProvider, Delivery, ProviderResult, PushAddress, PushMessage } from '../provider.ts';
import { providerMismatch } from '../push/mismatch.ts';
import { classifyJpushAnswer } from './errors.ts';
import { toJpushPush } from './payload.ts';

export interface JpushOptions {
  appKey: string;
  masterSecret: string;
  /** iOS pushes go to APNs production (true) or sandbox (false); always sent explicitly. */
  apnsProduction: boolean;
  /** Defaults to `https://api.jpush.cn` (Beijing-hosted apps: `https://bjapi.push.jiguang.cn`). */
  baseUrl?: string;
  /** Per request; a push that times out is UNKNOWN. Defaults to 10 s. */
  timeoutMs?: number;
}

/** JPush REST API v3: one registration id per request, no reconcile. */
export class JpushProvider implements ChannelProvider<PushAddress, PushMessage> {
  readonly name = 'jpush';
  private readonly url: string;
  private readonly authorization: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: JpushOptions) {
    this.url = `${(options.baseUrl ?? 'https://api.jpush.cn').replace(/\/+$/, '')}/v3/push`;
    this.authorization = `Basic ${Buffer.from(`${options.appKey}:${options.masterSecret}`).toString('base64')}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async send(delivery: Delivery<PushAddress, PushMessage>): Promise<ProviderResult> {
    const mismatch = providerMismatch(delivery, 'jpush');
    if (mismatch) return mismatch;
    const answer = await post(this.url, {
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      body: JSON.stringify(toJpushPush(delivery, this.options.apnsProduction)),
      timeoutMs: this.timeoutMs,
    });
    return answer.kind === 'answer' ? classifyJpushAnswer(answer) : unanswered(answer);
  }
}
