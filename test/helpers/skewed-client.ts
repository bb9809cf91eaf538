/**
 * A device whose clock is wrong: runs a real SDK (`segment` = @segment/analytics-node, `rudder` =
 * @rudderstack/rudder-sdk-node) in this process with `Date` shifted by CLOCK_OFFSET_MS, sends the
 * calls in CALLS (JSON: [method, params][]) to TIDELINE_URL and exits once they are flushed.
 * Usage: node --import tsx test/helpers/skewed-client.ts (environment: SDK, TIDELINE_URL, WRITE_KEY,
 * CLOCK_OFFSET_MS, CALLS).
 */
const offset = Number(process.env.CLOCK_OFFSET_MS ?? 0);
const RealDate = Date;
class SkewedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...(args as [string]));
  }

  static override now(): number {
    return RealDate.now() + offset;
  }
}
globalThis.Date = SkewedDate as DateConstructor;

const url = process.env.TIDELINE_URL as string;
const writeKey = process.env.WRITE_KEY as string;
const calls = JSON.parse(process.env.CALLS ?? '[]') as [string, Record<string, unknown>][];

if (process.env.SDK === 'rudder') {
  const { default: Analytics } = await import('@rudderstack/rudder-sdk-node');
  const client = new Analytics(writeKey, { dataPlaneUrl: url, flushAt: 100, flushInterval: 60_000 });
  for (const [method, params] of calls)
    (client as unknown as Record<string, (p: unknown) => void>)[method](params);
  await client.flush();
} else {
  const { Analytics } = await import('@segment/analytics-node');
  const client = new Analytics({ writeKey, host: url, flushAt: 100, flushInterval: 60_000 });
  const errors: unknown[] = [];
  client.on('error', (e) => errors.push(e));
  for (const [method, params] of calls)
    (client as unknown as Record<string, (p: unknown) => void>)[method](params);
  await client.closeAndFlush();
  if (errors.length > 0) {
    console.error(errors);
    process.exit(1);
  }
}
