import type { Json } from '../../../model/json.ts';
import type { WebhookCaller } from '../../../journeys/webhook.ts';

/** Webhook steps over HTTP: a JSON POST with the step's timeout; the answer's JSON body if any. */
export const httpWebhookCaller: WebhookCaller = async ({ url, headers, body, timeoutMs }) => {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    const text = await res.text();
    let parsed: Json | null = null;
    try {
      parsed = text ? (JSON.parse(text) as Json) : null;
    } catch {
      parsed = null;
    }
    return { ok: res.ok, status: res.status, body: parsed };
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    return {
      ok: false,
      status: null,
      body: null,
      error: timedOut ? `no answer within ${timeoutMs} ms` : (error as Error).message,
    };
  }
};
