import type { Clock, TimerHandle } from '../ports/clock.ts';

/** Node's setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Wall-clock time and Node's timers. Long delays are re-armed in steps. */
export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private lastId = 0;

  now(): number {
    return Date.now();
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const handle = { id: ++this.lastId };
    const due = Date.now() + Math.max(0, ms);
    const arm = (): void => {
      const left = due - Date.now();
      const step = Math.min(Math.max(0, left), MAX_TIMEOUT_MS);
      this.timers.set(
        handle.id,
        setTimeout(() => {
          if (left > MAX_TIMEOUT_MS) {
            arm();
          } else {
            this.timers.delete(handle.id);
            fn();
          }
        }, step),
      );
    };
    arm();
    return handle;
  }

  clearTimer(handle: TimerHandle): void {
    clearTimeout(this.timers.get(handle.id));
    this.timers.delete(handle.id);
  }
}

interface VirtualTimer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * Time that moves only when told to. `advanceTo` fires due timers one at a time, in due order
 * (ties in creation order), with `now()` set to each timer's due time, and lets the work each
 * one starts settle before the next: work registered with `track`, then anything queued on the
 * event loop. Handlers must not wait on this clock's own timers, or `advanceTo` never returns.
 */
export class VirtualClock implements Clock {
  private time: number;
  private readonly heap: VirtualTimer[] = [];
  private readonly live = new Set<number>();
  private readonly work = new Set<Promise<unknown>>();
  private lastId = 0;

  constructor(startMs: number) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    // ids grow with creation, so ordering by (due, id) keeps ties in creation order
    const timer = { id: ++this.lastId, due: this.time + Math.max(0, ms), fn };
    this.live.add(timer.id);
    push(this.heap, timer);
    return { id: timer.id };
  }

  clearTimer(handle: TimerHandle): void {
    this.live.delete(handle.id);
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    this.dropCleared();
    return this.heap[0]?.due;
  }

  /** Registers async work that `advanceTo` waits for before it moves time again. */
  track(work: Promise<unknown>): void {
    const settled: Promise<unknown> = work.then(
      () => this.work.delete(settled),
      () => this.work.delete(settled),
    );
    this.work.add(settled);
  }

  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.time + ms);
  }

  /**
   * Moves time to `t` without firing the timers due meanwhile: they fire on the next advance, late,
   * as behind a worker that lags (time never runs backwards for them).
   */
  jumpTo(t: number): void {
    this.time = Math.max(this.time, t);
  }

  async advanceTo(t: number): Promise<void> {
    await this.settle();
    for (let due = this.nextDue(); due !== undefined && due <= t; due = this.nextDue()) {
      const timer = pop(this.heap)!;
      this.live.delete(timer.id);
      this.time = Math.max(this.time, timer.due);
      timer.fn();
      await this.settle();
    }
    this.time = Math.max(this.time, t);
  }

  /**
   * Resolves once tracked work is done and the event loop has nothing queued from it. A timer's job
   * is tracked the moment it starts, and the jobs it adds before it ends: those are waited for
   * directly. A turn of the event loop is taken first, for anything untracked already queued.
   */
  async settle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.work.size > 0) await Promise.all(this.work);
  }

  private dropCleared(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0].id)) pop(this.heap);
  }
}

/** Whether the clock can track work (a VirtualClock); adapters call this so simulations settle. */
export function trackWork(clock: Clock, work: Promise<unknown>): void {
  if (clock instanceof VirtualClock) clock.track(work);
}

// A binary min-heap ordered by (due, id).

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.id < b.id);
}

function push(heap: VirtualTimer[], timer: VirtualTimer): void {
  heap.push(timer);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) break;
    [heap[i], heap[parent]] = [heap[parent], heap[i]];
    i = parent;
  }
}

function pop(heap: VirtualTimer[]): VirtualTimer | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let least = i;
    if (left < heap.length && before(heap[left], heap[least])) least = left;
    if (right < heap.length && before(heap[right], heap[least])) least = right;
    if (least === i) return top;
    [heap[i], heap[least]] = [heap[least], heap[i]];
    i = least;
  }
}
