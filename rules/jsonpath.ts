/**
 * `path` resolution exactly as json-rules-engine's almanac does it: JSONPath (jsonpath-plus,
 * `wrap: false`) on an object or array fact value; any other fact value is returned unchanged.
 * The `$.a.b[0]` forms are walked directly; anything else goes to jsonpath-plus.
 */
import { JSONPath } from 'jsonpath-plus';

const SEGMENT = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([\w -]+)'\]|\["([\w -]+)"\]/y;
const hasOwn = Object.prototype.hasOwnProperty;

/** Keys of a simple path, or null when jsonpath-plus must interpret it. */
export function simplePathKeys(path: string): string[] | null {
  if (path[0] !== '$') return null;
  const keys: string[] = [];
  SEGMENT.lastIndex = 1;
  while (SEGMENT.lastIndex < path.length) {
    const m = SEGMENT.exec(path);
    if (!m) return null;
    keys.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
  }
  return keys;
}

// jsonpath-plus follows a key when `val && Object.hasOwn(val, key)`: so a string's `length` and
// indexes resolve, and falsy values (0, '', false, null) have no children.
function walk(keys: string[], json: unknown): unknown {
  let value = json;
  for (const key of keys) {
    if (!value || !hasOwn.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A resolver for `path` (any value, as written in the condition), built once. */
export function pathResolver(path: unknown): (factValue: unknown) => unknown {
  if (!path) return (factValue) => factValue;
  const resolve = typeof path === 'string' ? stringPath(path) : otherPath(path);
  return (factValue) =>
    factValue !== null && typeof factValue === 'object' ? resolve(factValue) : factValue;
}

function stringPath(path: string): (json: unknown) => unknown {
  const keys = simplePathKeys(path);
  if (keys) return (json) => walk(keys, json);
  // One instance per path (autostart: false): with autostart, JSONPath() returns its result by throwing it.
  const jsonPath = JSONPath({ path, json: {}, wrap: false, autostart: false });
  return (json) => jsonPath.evaluate(path, json as object, undefined, undefined) as unknown;
}

// Not something validation accepts; kept only so both evaluators fail (or not) alike.
function otherPath(path: unknown): (json: unknown) => unknown {
  return (json) => JSONPath({ path: path as string, json: json as object, wrap: false }) as unknown;
}
