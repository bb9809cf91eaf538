/**
 * JSON request bodies: parsed by express, then refused with a 400 and the JSON pointer of the first
 * value nested deeper than MAX_JSON_DEPTH (deeply nested conditions or event properties would
 * exhaust the stack of every recursive step after parsing: validation, rules, storage).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { InputError, pointerToken } from '../model/input-error.ts';

/** Objects and arrays inside one another, at most (the body itself is depth 1). */
export const MAX_JSON_DEPTH = 64;

interface Node {
  value: unknown;
  depth: number;
  parent: Node | null;
  key: string | number | null;
}

const pointerOf = (node: Node): string => {
  const tokens: string[] = [];
  for (let n: Node | null = node; n && n.key !== null; n = n.parent) tokens.push(pointerToken(n.key));
  return tokens.length ? `/${tokens.reverse().join('/')}` : '';
};

/** The pointer of the first object or array deeper than `max`, or null; iterative (no recursion). */
export function tooDeep(value: unknown, max = MAX_JSON_DEPTH): string | null {
  const stack: Node[] = [{ value, depth: 1, parent: null, key: null }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const v = node.value;
    if (v === null || typeof v !== 'object') continue;
    if (node.depth > max) return pointerOf(node);
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((item, i) => [i, item])
      : Object.entries(v as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      if (child !== null && typeof child === 'object')
        stack.push({ value: child, depth: node.depth + 1, parent: node, key });
    }
  }
  return null;
}

function depthGuard(req: Request, _res: Response, next: NextFunction): void {
  const pointer = tooDeep(req.body);
  if (pointer === null) return next();
  next(
    InputError.invalid([
      { pointer, message: `nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays` },
    ]),
  );
}

/** express.json with the nesting limit. */
export function jsonBody(options: Parameters<typeof express.json>[0]): RequestHandler {
  const parse = express.json(options);
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => (error ? next(error) : depthGuard(req, res, next)));
  };
}
