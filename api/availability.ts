/** Whether a process can reach its store and queues: the API's `/ready` and its fast 503s. */
export interface ReadyReport {
  ready: boolean;
  checks: Record<string, string>;
}

export interface Availability {
  /** False while a dependency is known to be unreachable: answer 503 without trying. */
  available(): boolean;
  /** Seconds a client should wait before retrying. */
  retryAfterSeconds: number;
  /** The checks of `/ready` (each 'ok' or what is wrong). */
  ready(): Promise<ReadyReport>;
  close(): Promise<void>;
}
