// @ts-check
/**
 * Authenticated writes (and previews, which post a draft) with the console's key. Editing needs the
 * manage key; with a read key these answer 403, which the editors show as "read only".
 */
import { ApiError, readKey } from './api.js';

/** @typedef {{ pointer: string, message: string, line?: number, column?: number }} Fault */

/** A refused write, with the API's faults (each at a JSON pointer into what was sent). */
export class WriteError extends ApiError {
  /**
   * @param {number} status
   * @param {string} message
   * @param {Fault[]} faults
   */
  constructor(status, message, faults) {
    super(status, message);
    this.faults = faults;
  }
}

const base = new URL('../', document.baseURI);

/**
 * @template T
 * @param {'POST' | 'PUT'} method
 * @param {string} path without a leading slash
 * @param {unknown} body sent as JSON
 * @returns {Promise<T>}
 */
export const send = (method, path, body) => request(method, path, JSON.stringify(body));

/**
 * POSTs a text as it is, as a JSON body (the API says where a text that is not JSON goes wrong).
 * @param {string} path
 * @param {string} text
 */
export const sendText = (path, text) => request('POST', path, text);

/**
 * @param {'POST' | 'PUT'} method
 * @param {string} path
 * @param {string} body
 */
async function request(method, path, body) {
  const key = readKey();
  if (!key) throw new WriteError(401, 'no key', []);
  const res = await fetch(new URL(path, base), {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
    credentials: 'omit',
  });
  const answer = await res.json().catch(() => null);
  if (!res.ok) throw new WriteError(res.status, answer?.message ?? res.statusText, answer?.errors ?? []);
  return answer;
}

/**
 * Runs `fn` after `ms` of quiet: the editors preview once typing pauses, not on every key.
 * @param {() => void} fn
 * @param {number} ms
 */
export function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}
