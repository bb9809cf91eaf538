import type { ErrorObject } from 'ajv';
import type { RuleFault } from './types.ts';
import { childPointer } from './validate.ts';
import { didYouMean } from './suggest.ts';

/** Names the types a discriminated object (a step, a trigger) may have, for the fault of an unknown one. */
export type TagNames = (pointer: string) => { what: string; values: readonly string[] };

/**
 * ajv's errors as faults with JSON pointers. Errors under an `owned` pointer are left out (a check of
 * the caller's reports them better); one fault per pointer and message.
 */
export function schemaFaults(
  errors: ErrorObject[] | null | undefined,
  owned: readonly string[],
  tags?: TagNames,
): RuleFault[] {
  const isOwned = (path: string) => owned.some((p) => path === p || path.startsWith(`${p}/`));
  const faults = new Map<string, RuleFault>();
  for (const error of errors ?? []) {
    // `if` only says which `then` failed; that branch's own errors say why.
    if (error.keyword === 'if' || isOwned(error.instancePath)) continue;
    const fault = schemaFault(error, tags);
    // A step's id is required both by the step and by its type's schema.
    if (fault) faults.set(`${fault.pointer} ${fault.message}`, fault);
  }
  return [...faults.values()];
}

function schemaFault(error: ErrorObject, tags?: TagNames): RuleFault | null {
  const path = error.instancePath;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      // With ajv's `verbose`, the object's schema names the fields it allows.
      const allowed = Object.keys(
        (error.parentSchema as { properties?: object } | undefined)?.properties ?? {},
      );
      return {
        pointer: childPointer(path, key),
        message: `unknown field '${key}'${didYouMean(key, allowed)}`,
      };
    }
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      return { pointer: childPointer(path, key), message: 'is required' };
    }
    case 'discriminator': {
      const params = error.params as { error: 'tag' | 'mapping'; tag: string; tagValue?: unknown };
      if (params.tagValue === undefined) return null; // missing: `required` reports it
      const pointer = childPointer(path, params.tag);
      if (params.error === 'tag') return { pointer, message: 'must be a string' };
      const named = tags?.(path);
      const value =
        typeof params.tagValue === 'string' ? `'${params.tagValue}'` : JSON.stringify(params.tagValue);
      return named
        ? {
            pointer,
            message: `unknown ${named.what} type ${value}${didYouMean(params.tagValue, named.values)} (${named.what} types: ${named.values.join(', ')})`,
          }
        : { pointer, message: `unknown type ${value}` };
    }
    case 'enum': {
      const values = (error.params as { allowedValues: unknown[] }).allowedValues.map((v) => String(v));
      return {
        pointer: path,
        message: `must be one of ${values.join(', ')}${didYouMean(error.data, values)}`,
      };
    }
    default:
      return { pointer: path, message: error.message ?? 'is invalid' };
  }
}
