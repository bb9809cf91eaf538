/**
 * Send-time policy that is not the journey's own: workspace frequency caps (rolling windows, every
 * cap that applies must have room), the marketing-push cap per device, and China's daytime window
 * for promotional SMS.
 */
import type { CapWindow } from '../ports/channel-state.ts';
import { quietEnd } from '../policy/send-time.ts';
import { parseDurationMs } from '../rules/durations.ts';
import type { SendPolicy } from './config.ts';
import type { QuietHours } from '../model/channels.ts';

const DAY_MS = 86_400_000;

/** The windows one send must fit into (none for transactional journeys when they are exempt). */
export function capWindows(
  policy: SendPolicy,
  profileKey: string,
  channel: string,
  transactional: boolean,
  device: string | null,
): CapWindow[] {
  if (transactional && policy.transactionalExempt) return [];
  const windows: CapWindow[] = [];
  for (const cap of policy.frequencyCaps) {
    if (cap.channel !== 'any' && cap.channel !== channel) continue;
    windows.push({
      key: `${profileKey}:${cap.channel}:${cap.window}`,
      windowMs: parseDurationMs(cap.window) as number,
      limit: cap.limit,
    });
  }
  if (device !== null && !transactional) {
    windows.push({
      key: `device:${device}:P1D`,
      windowMs: DAY_MS,
      limit: policy.pushMarketingPerDevicePerDay,
    });
  }
  return windows;
}

/**
 * When a marketing SMS at `at` may go, if it falls outside the allowed hours (null: now). The allowed
 * window's complement is a quiet window that wraps midnight.
 */
export function promotionalSmsWait(policy: SendPolicy, at: number, timezone: string | null): number | null {
  const hours = policy.promotionalSmsHours;
  if (!hours) return null;
  const quiet: QuietHours = { start: hours.end, end: hours.start, action: 'defer' };
  return quietEnd(quiet, at, timezone ?? hours.timezone);
}

/** The Mini Program credit a subscribe message spends: per (app, openid, template). */
export const creditKey = (
  address: { appId: string; openId: string },
  message: { templateId: string },
): string => `${address.appId}:${address.openId}:${message.templateId}`;
