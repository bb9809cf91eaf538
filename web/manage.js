// @ts-check
/** Calls that change the workspace (they need a key with the manage scope), and what the key may do. */
import { ApiError, readKey } from './api.js';

const base = new URL('../', document.baseURI);

/** @type {{ key: string, scopes: Promise<string[]> } | null} */
let known = null;

/** Whether the stored key may edit (asked once per key). */
export async function canManage() {
  const key = readKey();
  if (!key) return false;
  if (known?.key !== key) {
    const scopes = fetch(new URL('v1/key', base), {
      headers: { authorization: `Bearer ${key}` },
      credentials: 'omit',
    })
      .then((res) => (res.ok ? res.json() : { scopes: [] }))
      .then((body) => /** @type {string[]} */ (body.scopes ?? []));
    known = { key, scopes };
  }
  return (await known.scopes).includes('manage');
}

/**
 * @typedef {{ pointer: string, message: string, line?: number, column?: number }} Fault
 */

/**
 * POST or PUT with the stored key. A JSON body unless `body` is a string (sent as text).
 * An answer that is not 2xx throws an ApiError carrying the API's message and faults.
 * @template T
 * @param {'POST' | 'PUT'} method
 * @param {string} path without a leading slash
 * @param {unknown} [body]
 * @returns {Promise<T>}
 */
export async function send(method, path, body) {
  const key = readKey();
  if (!key) throw new ApiError(401, 'no key');
  const text = typeof body === 'string';
  const res = await fetch(new URL(path, base), {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': text ? 'text/plain' : 'application/json',
    },
    body: text ? body : JSON.stringify(body ?? {}),
    credentials: 'omit',
  });
  const answer = await res.json().catch(() => null);
  if (!res.ok) {
    const error = new ApiError(res.status, answer?.message ?? res.statusText);
    /** @type {Fault[]} */
    const faults = answer?.errors ?? [];
    throw Object.assign(error, { faults });
  }
  return answer;
}
