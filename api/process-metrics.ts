import type { NextFunction, Request, Response } from 'express';

/** What the API reports to the process's metrics (cli/metrics.ts) and serves at `/metrics`. */
export interface ProcessMetrics {
  contentType: string;
  /** The exposition text. */
  text(): Promise<string>;
  /** Middleware timing and counting every request. */
  http(req: Request, res: Response, next: NextFunction): void;
  /** Messages accepted for ingestion. */
  ingested(count: number): void;
}
