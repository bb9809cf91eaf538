import { DateTime } from 'luxon';
import type { QuietHours } from '../model/channels.ts';
import { safeZone } from '../rules/time.ts';

/** The end of the quiet window containing `at`, or null when `at` is outside it. */
export function quietEnd(quiet: QuietHours, at: number, timezone: string): number | null {
  const local = DateTime.fromMillis(at, { zone: safeZone(timezone) });
  const minutes = local.hour * 60 + local.minute;
  const [sh, sm] = quiet.start.split(':').map(Number);
  const [eh, em] = quiet.end.split(':').map(Number);
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  const inside = start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
  if (!inside) return null;
  let until = local.set({ hour: eh, minute: em, second: 0, millisecond: 0 });
  if (until.toMillis() <= at) until = until.plus({ days: 1 });
  return until.toMillis();
}

/** Wait before attempt n+1: 5 s, 10 s, 20 s ... at most ten minutes. */
export const sendBackoff = (attempt: number): number => Math.min(600_000, 5_000 * 2 ** (attempt - 1));
