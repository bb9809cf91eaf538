/**
 * The workspace's channel configuration (`channels.json`): providers with their credentials given as
 * `${ENV_VAR}` references (secrets stay out of the workspace files), and the send policy.
 */
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import schema from '../schemas/channels.schema.json' with { type: 'json' };
import type { RuleFault } from '../rules/types.ts';
import { parseDurationMs } from '../rules/durations.ts';
import type { JsonObject } from '../model/json.ts';
import { schemaFaults } from '../rules/schema-faults.ts';
import type { SandboxAddresses } from './dispatcher.ts';

export type ProviderName = 'aliyun-sms' | 'smtp' | 'fcm' | 'apns' | 'jpush' | 'wechat' | 'miniprogram';
export type CapChannel = 'any' | 'sms' | 'email' | 'push' | 'wechat' | 'miniprogram';

export interface FrequencyCap {
  channel: CapChannel;
  limit: number;
  window: string;
}

export interface SendPolicy {
  frequencyCaps: FrequencyCap[];
  transactionalExempt: boolean;
  promotionalSmsHours: { start: string; end: string; timezone: string } | null;
  pushMarketingPerDevicePerDay: number;
}

export interface ChannelsConfig {
  /** Providers whose variables were all set, with the values filled in. */
  providers: Partial<Record<ProviderName, JsonObject>>;
  /** Providers left out, with the variables they lack. */
  missing: Partial<Record<ProviderName, string[]>>;
  /**
   * The providers left out, with what could be filled in: their inbound callbacks (a WeChat app's
   * Token and EncodingAESKey) work without the credentials that sending needs.
   */
  partial: Partial<Record<ProviderName, JsonObject>>;
  policy: SendPolicy;
}

export const DEFAULT_POLICY: SendPolicy = {
  frequencyCaps: [],
  transactionalExempt: true,
  promotionalSmsHours: { start: '08:00', end: '22:00', timezone: 'Asia/Shanghai' },
  pushMarketingPerDevicePerDay: 3,
};

const check = new Ajv({ allErrors: true, verbose: true, strict: false }).compile(schema);

/** Shape faults, and durations luxon cannot read. */
export function validateChannels(doc: unknown): RuleFault[] {
  if (!check(doc)) return schemaFaults(check.errors, []);
  const caps = (doc as { policy?: { frequencyCaps?: FrequencyCap[] } }).policy?.frequencyCaps ?? [];
  return caps.flatMap((cap, i) =>
    parseDurationMs(cap.window) === null
      ? [{ pointer: `/policy/frequencyCaps/${i}/window`, message: `not an ISO 8601 duration: ${cap.window}` }]
      : [],
  );
}

const VARIABLE = /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g;

/** Fills `${VAR}` and `${VAR:-default}` from the environment; answers the variables that are unset. */
function substitute(value: unknown, env: NodeJS.ProcessEnv, unset: Set<string>): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (_, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      unset.add(name);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, env, unset));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, env, unset)]));
  }
  return value;
}

/** A validated document, with the environment filled in. */
export function resolveChannels(doc: JsonObject, env: NodeJS.ProcessEnv = process.env): ChannelsConfig {
  const providers: ChannelsConfig['providers'] = {};
  const missing: ChannelsConfig['missing'] = {};
  const partial: ChannelsConfig['partial'] = {};
  for (const [name, raw] of Object.entries((doc.providers as JsonObject | undefined) ?? {})) {
    const unset = new Set<string>();
    const filled = substitute(raw, env, unset) as JsonObject;
    if (unset.size > 0) {
      missing[name as ProviderName] = [...unset];
      partial[name as ProviderName] = filled;
    } else providers[name as ProviderName] = filled;
  }
  type Hours = { start: string; end: string; timezone?: string } | null;
  const policy =
    (doc.policy as
      (Partial<Omit<SendPolicy, 'promotionalSmsHours'>> & { promotionalSmsHours?: Hours }) | undefined) ?? {};
  const hours = policy.promotionalSmsHours;
  return {
    providers,
    missing,
    partial,
    policy: {
      frequencyCaps: policy.frequencyCaps ?? DEFAULT_POLICY.frequencyCaps,
      transactionalExempt: policy.transactionalExempt ?? DEFAULT_POLICY.transactionalExempt,
      promotionalSmsHours:
        hours === undefined
          ? DEFAULT_POLICY.promotionalSmsHours
          : hours && { ...hours, timezone: hours.timezone ?? 'Asia/Shanghai' },
      pushMarketingPerDevicePerDay:
        policy.pushMarketingPerDevicePerDay ?? DEFAULT_POLICY.pushMarketingPerDevicePerDay,
    },
  };
}

/** Reads `channels.json`; no file: no providers (everything goes to the sandbox), default policy. */
export async function loadChannels(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChannelsConfig> {
  if (path === undefined) return resolveChannels({}, env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return resolveChannels({}, env);
    throw error;
  }
  const doc = JSON.parse(text) as unknown;
  const faults = validateChannels(doc);
  if (faults.length > 0) {
    throw new Error(`${path}: ${faults.map((f) => `${f.pointer}: ${f.message}`).join('; ')}`);
  }
  return resolveChannels(doc as JsonObject, env);
}

/**
 * The WeChat apps and push providers the file names, credentials set or not: the sandbox resolves
 * addresses with them as those channels do.
 */
export function sandboxAddresses(config: ChannelsConfig): SandboxAddresses {
  const addresses: SandboxAddresses = {};
  for (const name of ['wechat', 'miniprogram'] as const) {
    const appId = (config.providers[name] ?? config.partial[name])?.appId;
    if (typeof appId === 'string' && appId !== '') addresses[name] = appId;
  }
  const push = (['fcm', 'apns', 'jpush'] as const).filter(
    (name) => config.providers[name] ?? config.partial[name],
  );
  if (push.length > 0) addresses.push = push;
  return addresses;
}
