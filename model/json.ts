export type Json = string | number | boolean | null | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A deep copy of JSON data, equal to `JSON.parse(JSON.stringify(value))` and several times faster on
 * plain objects and arrays: undefined, functions and symbols are left out of objects (null in arrays),
 * non-finite numbers become null and -0 becomes 0. Anything else (a Date or any object with `toJSON`,
 * a class instance, a bigint) takes the JSON round trip itself.
 */
export function copyJson<T>(value: T): T {
  return copyValue(value) as T;
}

/** undefined for what JSON leaves out. */
function copyValue(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value + 0 : null;
    case 'object':
      break;
    case 'bigint':
      return JSON.parse(JSON.stringify(value)) as unknown; // throws, as JSON does
    default:
      return undefined;
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = copyValue(value[i]) ?? null;
    return copy;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value)
    return JSON.parse(JSON.stringify(value)) as unknown;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = copyValue((value as Record<string, unknown>)[key]);
    if (item === undefined) continue;
    if (key === '__proto__')
      Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
    else copy[key] = item;
  }
  return copy;
}
