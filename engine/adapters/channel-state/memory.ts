import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type {
  CapWindow,
  ChannelAlert,
  ChannelState,
  Claim,
  ClaimRequest,
  MessageRecord,
  Suppression,
} from '../../../ports/channel-state.ts';
import { blind, DIGEST, nextClaim, rateWait } from './rules.ts';

/** What a snapshot holds: everything but inbound marks and rate windows, which are short-lived. */
interface Snapshot {
  records: [string, MessageRecord][];
  index: [string, string][];
  suppressions: [string, Suppression][];
  windows: [string, [string, number][]][];
  credits: [string, number][];
  alerts: [string, ChannelAlert][];
}

/**
 * Channel state in this process (embedded mode, the simulator, tests). Opened on a file, it is
 * written there every `snapshotIntervalMs` when something changed and on close, so that the
 * embedded engine keeps its suppression list, claims and credits across restarts.
 */
export class MemoryChannelState implements ChannelState {
  private file: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** The content of the file as last written or read. */
  private saved = '';
  private writing: Promise<void> = Promise.resolve();

  /** A state loaded from `file` (when it exists) and snapshotted to it. */
  static async open(file: string, snapshotIntervalMs = 30_000): Promise<MemoryChannelState> {
    const state = new MemoryChannelState();
    state.file = file;
    try {
      state.restore(JSON.parse(await readFile(file, 'utf8')) as Snapshot);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    state.saved = state.serialise();
    state.timer = setInterval(() => {
      state.save().catch((e: unknown) => process.emitWarning(`channel state snapshot failed: ${e}`));
    }, snapshotIntervalMs);
    state.timer.unref();
    return state;
  }

  private readonly records = new Map<string, MessageRecord>();
  private readonly index = new Map<string, string>();
  private readonly suppressions = new Map<string, Suppression>();
  private readonly windows = new Map<string, Map<string, number>>();
  private readonly creditCounts = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  private readonly rates = new Map<string, number>();
  private readonly alertsById = new Map<string, ChannelAlert>();

  async claim(request: ClaimRequest): Promise<Claim> {
    const { claim, write } = nextClaim(this.copy(this.records.get(request.messageId)), request);
    if (write) this.records.set(request.messageId, this.copy(write)!);
    return claim;
  }

  async settle(record: MessageRecord, index: string[] = []): Promise<void> {
    this.records.set(record.messageId, this.copy(record)!);
    for (const key of index) this.index.set(blind(key), record.messageId);
  }

  async record(messageId: string): Promise<MessageRecord | null> {
    return this.copy(this.records.get(messageId)) ?? null;
  }

  async lookup(indexKey: string): Promise<string | null> {
    return this.index.get(blind(indexKey)) ?? this.index.get(indexKey) ?? null;
  }

  async update(messageId: string, fields: Partial<MessageRecord>): Promise<MessageRecord | null> {
    const record = this.records.get(messageId);
    if (!record) return null;
    Object.assign(record, fields);
    return this.copy(record)!;
  }

  async forgetProfile(profileKey: string): Promise<number> {
    const ids = new Set<string>();
    for (const [id, record] of this.records) if (record.profileKey === profileKey) ids.add(id);
    for (const id of ids) this.records.delete(id);
    for (const [key, id] of this.index) if (ids.has(id)) this.index.delete(key);
    for (const key of this.windows.keys()) if (key.startsWith(`${profileKey}:`)) this.windows.delete(key);
    // Erasure reaches the file at once, not at the next snapshot.
    if (this.file) await this.save();
    return ids.size;
  }

  // Suppressions and credits are keyed by digests of the address or openid, as on Redis.
  async suppress(channel: string, address: string, suppression: Suppression): Promise<void> {
    this.suppressions.set(`${channel}:${blind(address)}`, { ...suppression });
  }

  async suppressed(channel: string, address: string): Promise<Suppression | null> {
    const found = this.suppressions.get(`${channel}:${blind(address)}`);
    return found ? { ...found } : null;
  }

  async unsuppress(channel: string, address: string): Promise<void> {
    this.suppressions.delete(`${channel}:${blind(address)}`);
  }

  async reserve(
    messageId: string,
    windows: CapWindow[],
    now: number,
  ): Promise<{ ok: true } | { ok: false; full: string }> {
    for (const w of windows) {
      const members = this.windows.get(w.key);
      if (!members) continue;
      for (const [id, at] of members) if (at <= now - w.windowMs) members.delete(id);
      if (!members.has(messageId) && members.size >= w.limit) return { ok: false, full: w.key };
    }
    for (const w of windows) {
      let members = this.windows.get(w.key);
      if (!members) this.windows.set(w.key, (members = new Map()));
      if (!members.has(messageId)) members.set(messageId, now);
    }
    return { ok: true };
  }

  async release(messageId: string, keys: string[]): Promise<void> {
    for (const key of keys) this.windows.get(key)?.delete(messageId);
  }

  async grantCredit(key: string, status: 'accept' | 'reject'): Promise<number> {
    const digest = blind(key);
    const next = status === 'accept' ? (this.creditCounts.get(digest) ?? 0) + 1 : 0;
    this.creditCounts.set(digest, next);
    return next;
  }

  async takeCredit(key: string): Promise<boolean> {
    const digest = blind(key);
    const n = this.creditCounts.get(digest) ?? 0;
    if (n <= 0) return false;
    this.creditCounts.set(digest, n - 1);
    return true;
  }

  async returnCredit(key: string): Promise<void> {
    const digest = blind(key);
    this.creditCounts.set(digest, (this.creditCounts.get(digest) ?? 0) + 1);
  }

  async credits(key: string): Promise<number> {
    return this.creditCounts.get(blind(key)) ?? 0;
  }

  async firstSeen(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const until = this.seen.get(blind(key));
    if (until !== undefined && until > now) return false;
    this.seen.set(blind(key), now + ttlMs);
    if (this.seen.size > 100_000) {
      for (const [k, u] of this.seen) if (u <= now) this.seen.delete(k);
    }
    return true;
  }

  async forgetSeen(keys: string[]): Promise<void> {
    for (const key of keys) this.seen.delete(blind(key));
  }

  async rateSlot(provider: string, ratePerSecond: number, now: number): Promise<number> {
    const { wait, next } = rateWait(this.rates.get(provider) ?? 0, ratePerSecond, now);
    this.rates.set(provider, next);
    return wait;
  }

  async raiseAlert(alert: ChannelAlert): Promise<void> {
    if (!this.alertsById.has(alert.id)) this.alertsById.set(alert.id, { ...alert });
  }

  async alerts(): Promise<ChannelAlert[]> {
    return [...this.alertsById.values()].map((a) => ({ ...a }));
  }

  async resolveAlert(id: string): Promise<boolean> {
    return this.alertsById.delete(id);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.file) await this.save(true);
  }

  /** Writes the snapshot when it changed (or `always`), one write at a time. */
  private save(always = false): Promise<void> {
    const written = this.writing.then(async () => {
      const content = this.serialise();
      if (!always && content === this.saved) return;
      await this.write(content);
      this.saved = content;
    });
    this.writing = written.catch(() => {});
    return written;
  }

  private serialise(): string {
    const snapshot: Snapshot = {
      records: [...this.records],
      index: [...this.index],
      suppressions: [...this.suppressions],
      windows: [...this.windows].map(([key, members]) => [key, [...members]]),
      credits: [...this.creditCounts],
      alerts: [...this.alertsById],
    };
    return JSON.stringify(snapshot);
  }

  private restore(snapshot: Snapshot): void {
    for (const [k, v] of snapshot.records) this.records.set(k, v);
    for (const [k, v] of snapshot.index) this.index.set(k, v);
    // Snapshots written before suppressions and credits were kept under digests name the address.
    for (const [k, v] of snapshot.suppressions) {
      const at = k.indexOf(':');
      const address = k.slice(at + 1);
      this.suppressions.set(DIGEST.test(address) ? k : `${k.slice(0, at)}:${blind(address)}`, v);
    }
    for (const [k, v] of snapshot.windows) this.windows.set(k, new Map(v));
    for (const [k, v] of snapshot.credits) this.creditCounts.set(DIGEST.test(k) ? k : blind(k), v);
    for (const [k, v] of snapshot.alerts) this.alertsById.set(k, v);
  }

  /** Atomically: a temporary file renamed over the snapshot. */
  private async write(content: string): Promise<void> {
    const file = this.file!;
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, content);
    await rename(`${file}.tmp`, file);
  }

  private copy(record: MessageRecord | undefined): MessageRecord | undefined {
    return record ? { ...record, ...(record.caps ? { caps: [...record.caps] } : {}) } : undefined;
  }
}
