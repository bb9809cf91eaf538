// @ts-check
/** The read key (kept in localStorage) and authenticated GETs against the API. */

const STORAGE = 'tideline.console.readKey';

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const readKey = () => localStorage.getItem(STORAGE);

/** @param {string} key */
export const saveKey = (key) => localStorage.setItem(STORAGE, key);

export const forgetKey = () => localStorage.removeItem(STORAGE);

/** The API's origin: the console is served by the API itself, at `<origin>/console/`. */
const base = new URL('../', document.baseURI);

/**
 * GET a JSON document with the read key as a Bearer token.
 * @template T
 * @param {string} path without a leading slash, e.g. `v1/reports/journeys`
 * @param {Record<string, string | undefined>} [query] undefined values are left out
 * @returns {Promise<T>}
 */
export async function get(path, query = {}) {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, value);
  const key = readKey();
  if (!key) throw new ApiError(401, 'no key');
  // credentials 'omit': a 401 must not raise the browser's own Basic login dialog.
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` }, credentials: 'omit' });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body?.message ?? res.statusText);
  return body;
}
