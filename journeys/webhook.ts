/**
 * Webhook steps. The walk cannot wait on I/O: a user reaching a webhook step waits there with a due
 * timer; the timer's job (the user's re-check) makes the call through a WebhookCaller, outside the
 * commit, and hands the outcome to the walk, which records it, sets traits from the response and moves
 * on. Calls carry an `Idempotency-Key`: a worker that dies after the call but before its commit calls
 * again (at least once), and the receiver can tell.
 */
import type { Json } from '../model/json.ts';
import type { Profile } from '../model/profile.ts';
import { durationMs } from '../rules/durations.ts';
import type { WebhookStep } from './journey.ts';
import type { JourneySet } from './journey-set.ts';
import type { Enrollment } from '../model/journeys.ts';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: Json;
  timeoutMs: number;
}

export interface WebhookOutcome {
  /** A 2xx answer. */
  ok: boolean;
  status: number | null;
  /** The JSON body of the answer, when it had one. */
  body: Json | null;
  error?: string;
}

/** The port: an HTTP POST (engine/adapters/webhooks/http.ts), or a fake in tests. */
export type WebhookCaller = (request: WebhookRequest) => Promise<WebhookOutcome>;

/** Outcomes by `webhookKey`, handed to the walk. */
export type WebhookOutcomes = ReadonlyMap<string, WebhookOutcome>;

/** A webhook step's call: its key (enrollment, step, visit, attempt) and the request to make. */
export interface WebhookCall {
  key: string;
  request: WebhookRequest;
}

export const DEFAULT_WEBHOOK_TIMEOUT = 'PT5S';

/** One call of one visit of a webhook step: the enrollment, the visit and the attempt. */
export const webhookKey = (e: Enrollment): string =>
  `${e.id}:${e.step}:${e.visits}:${(e.webhookAttempts ?? 0) + 1}`;

/** Whether an answer is worth another attempt: no answer, a timeout, throttling or a server error. */
export function retryable(outcome: WebhookOutcome): boolean {
  return outcome.status === null || outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
}

/** Wait before attempt n+1: 1 s, 2 s, 4 s ... at most a minute. */
export const webhookBackoff = (attempt: number): number => Math.min(60_000, 1000 * 2 ** (attempt - 1));

function request(step: WebhookStep, e: Enrollment, journeyId: string, profile: Profile): WebhookRequest {
  const body: Json = step.body ?? {
    journeyId,
    enrollmentId: e.id,
    step: step.id,
    userId: profile.userId,
    anonymousIds: profile.anonymousIds,
    traits: profile.traits,
  };
  return {
    url: step.url,
    headers: {
      'content-type': 'application/json',
      ...step.headers,
      'idempotency-key': `${e.id}:${step.id}:${e.visits}`,
    },
    body,
    timeoutMs: durationMs(step.timeout ?? DEFAULT_WEBHOOK_TIMEOUT),
  };
}

/** The calls due for this user now: enrollments waiting at a webhook step whose time has come. */
export function dueWebhooks(profile: Profile, journeys: JourneySet, now: number): WebhookCall[] {
  const due: WebhookCall[] = [];
  for (const [journeyId, memory] of Object.entries(profile.journeys ?? {})) {
    const e = memory.active;
    if (!e || e.dueAt === null || e.dueAt > now || journeys.state(journeyId).state !== 'running') continue;
    const step = journeys.version(journeyId, e.version)?.steps.get(e.step)?.step;
    if (step?.type === 'webhook')
      due.push({ key: webhookKey(e), request: request(step, e, journeyId, profile) });
  }
  return due;
}

/** Makes the calls (in parallel); a caller that throws counts as no answer. */
export async function callWebhooks(
  calls: readonly WebhookCall[],
  caller: WebhookCaller,
): Promise<Map<string, WebhookOutcome>> {
  const outcomes = await Promise.all(
    calls.map(async ({ key, request }) => {
      try {
        return [key, await caller(request)] as const;
      } catch (error) {
        return [key, { ok: false, status: null, body: null, error: (error as Error).message }] as const;
      }
    }),
  );
  return new Map(outcomes);
}
