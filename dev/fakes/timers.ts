/** The timers a fake holds its answers back with; closing the fake cancels those still pending. */
export class FakeTimers {
  private readonly pending = new Set<NodeJS.Timeout>();

  /** Runs `fn` after `ms`. */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      fn();
    }, ms);
    this.pending.add(timer);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  clear(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}
