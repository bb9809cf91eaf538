/** Time as the core sees it: a real clock in production, a virtual one in simulation and tests. */
export interface Clock {
  now(): number;
  /** Calls `fn` once `ms` milliseconds of this clock's time have passed. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}
