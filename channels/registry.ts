/**
 * Builds the provider adapters a workspace's `channels.json` configures. Values come from the file
 * after `${VAR}` substitution, so numbers and booleans may arrive as strings.
 */
import type { JsonObject } from '../model/json.ts';
import type { ChannelsConfig, ProviderName } from './config.ts';
import type { Providers } from './dispatcher.ts';
import { AliyunSmsProvider } from './aliyun-sms/provider.ts';
import { ApnsProvider } from './apns/provider.ts';
import { FcmProvider } from './fcm/provider.ts';
import { JpushProvider } from './jpush/provider.ts';
import { SmtpProvider } from './smtp/provider.ts';
import { MiniprogramSubscribeProvider } from './wechat/subscribe.ts';
import { WechatTemplateProvider } from './wechat/template.ts';

/** What the WeChat callback of one app checks pushes with. */
export interface WechatCallbackKeys {
  appId: string;
  token: string;
  encodingAESKey?: string;
}

const str = (o: JsonObject, k: string): string | undefined =>
  o[k] === undefined || o[k] === null || o[k] === '' ? undefined : String(o[k]);
const num = (o: JsonObject, k: string): number | undefined => {
  const v = str(o, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`channels.json: ${k} must be a number, got ${v}`);
  return n;
};
const bool = (o: JsonObject, k: string): boolean | undefined => {
  const v = str(o, k);
  return v === undefined ? undefined : v === 'true';
};
const obj = (o: JsonObject, k: string): JsonObject | undefined =>
  o[k] && typeof o[k] === 'object' && !Array.isArray(o[k]) ? (o[k] as JsonObject) : undefined;

/** What the API checks providers' pushes with (no adapter needed: API processes send nothing). */
export interface InboundKeys {
  /** Apps whose callback URL (`/v1/inbound/wechat/<appId>`) is configured. */
  wechatCallbacks: WechatCallbackKeys[];
  /** Aliyun pushes are unsigned: the token their URLs must carry (`?token=`); unset: the routes refuse. */
  aliyunToken?: string;
}

export function inboundKeys(config: ChannelsConfig): InboundKeys {
  const wechatCallbacks: WechatCallbackKeys[] = [];
  for (const name of ['wechat', 'miniprogram'] as const) {
    // Receiving needs only the app id and Token (and the EncodingAESKey in safe mode), not the
    // AppSecret that sending needs.
    const options = config.providers[name] ?? config.partial[name];
    const token = options && str(options, 'callbackToken');
    const appId = options && str(options, 'appId');
    if (!token || !appId) continue;
    const aesKey = str(options, 'encodingAESKey');
    wechatCallbacks.push({
      appId,
      token,
      ...(aesKey ? { encodingAESKey: aesKey } : {}),
    });
  }
  const aliyun = config.providers['aliyun-sms'] ?? config.partial['aliyun-sms'];
  const aliyunToken = aliyun && str(aliyun, 'callbackToken');
  return { wechatCallbacks, ...(aliyunToken ? { aliyunToken } : {}) };
}

export interface BuiltProviders {
  providers: Providers;
  /** Calls per second by provider name (`ratePerSecond`). */
  rates: Partial<Record<string, number>>;
  emailFrom?: string;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

export function buildProviders(config: ChannelsConfig): BuiltProviders {
  const providers: Providers = {};
  const rates: BuiltProviders['rates'] = {};
  const closers: (() => Promise<void>)[] = [];
  let emailFrom: string | undefined;
  for (const [name, options] of Object.entries(config.providers) as [ProviderName, JsonObject][]) {
    const rate = num(options, 'ratePerSecond');
    if (rate) rates[name] = rate;
    switch (name) {
      case 'smtp': {
        const user = str(options, 'user');
        const dkim = obj(options, 'dkim');
        const smtp = new SmtpProvider({
          host: str(options, 'host')!,
          port: num(options, 'port') ?? 587,
          ...(bool(options, 'secure') !== undefined ? { secure: bool(options, 'secure') } : {}),
          ...(bool(options, 'ignoreTLS') !== undefined ? { ignoreTLS: bool(options, 'ignoreTLS') } : {}),
          ...(user ? { auth: { user, pass: str(options, 'pass') ?? '' } } : {}),
          ...(num(options, 'maxConnections') ? { maxConnections: num(options, 'maxConnections') } : {}),
          ...(dkim
            ? {
                dkim: {
                  domainName: String(dkim.domainName),
                  keySelector: String(dkim.keySelector),
                  privateKey: String(dkim.privateKey),
                },
              }
            : {}),
        });
        providers.email = smtp;
        emailFrom = str(options, 'from');
        closers.push(() => smtp.close());
        break;
      }
      case 'aliyun-sms':
        providers.sms = new AliyunSmsProvider({
          accessKeyId: str(options, 'accessKeyId')!,
          accessKeySecret: str(options, 'accessKeySecret')!,
          ...(str(options, 'endpoint') ? { endpoint: str(options, 'endpoint') } : {}),
          ...(str(options, 'protocol') === 'http' ? { protocol: 'http' as const } : {}),
          ...(num(options, 'timeoutMs')
            ? { connectTimeout: num(options, 'timeoutMs'), readTimeout: num(options, 'timeoutMs') }
            : {}),
        });
        break;
      case 'fcm':
        (providers.push ??= {}).fcm = new FcmProvider({
          serviceAccount: str(options, 'serviceAccount')!,
          ...(str(options, 'baseUrl') ? { baseUrl: str(options, 'baseUrl') } : {}),
          ...(str(options, 'tokenUri') ? { tokenUri: str(options, 'tokenUri') } : {}),
          ...(num(options, 'timeoutMs') ? { timeoutMs: num(options, 'timeoutMs') } : {}),
        });
        break;
      case 'apns': {
        const apns = new ApnsProvider({
          key: str(options, 'key')!,
          keyId: str(options, 'keyId')!,
          teamId: str(options, 'teamId')!,
          topic: str(options, 'topic')!,
          production: bool(options, 'production') ?? true,
          ...(str(options, 'address') ? { address: str(options, 'address') } : {}),
          ...(num(options, 'port') ? { port: num(options, 'port') } : {}),
          ...(bool(options, 'rejectUnauthorized') === false ? { rejectUnauthorized: false } : {}),
        });
        (providers.push ??= {}).apns = apns;
        closers.push(() => apns.close());
        break;
      }
      case 'jpush':
        (providers.push ??= {}).jpush = new JpushProvider({
          appKey: str(options, 'appKey')!,
          masterSecret: str(options, 'masterSecret')!,
          apnsProduction: bool(options, 'apnsProduction') ?? true,
          ...(str(options, 'baseUrl') ? { baseUrl: str(options, 'baseUrl') } : {}),
        });
        break;
      case 'wechat':
      case 'miniprogram': {
        const appId = str(options, 'appId')!;
        const api = {
          apps: [{ appId, secret: str(options, 'secret')! }],
          ...(str(options, 'baseUrl') ? { baseUrl: str(options, 'baseUrl') } : {}),
          ...(num(options, 'timeoutMs') ? { timeoutMs: num(options, 'timeoutMs') } : {}),
        };
        if (name === 'wechat') providers.wechat = { appId, provider: new WechatTemplateProvider(api) };
        else providers.miniprogram = { appId, provider: new MiniprogramSubscribeProvider(api) };
        break;
      }
      default:
        break;
    }
  }
  return {
    providers,
    rates,
    ...(emailFrom ? { emailFrom } : {}),
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
}
