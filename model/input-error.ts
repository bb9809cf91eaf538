/** One fault in an input (a request body, a file), located by a JSON pointer (RFC 6901) into it. */
export interface Fault {
  pointer: string;
  message: string;
  /** Where in the request's text (1-based), when known. */
  line?: number;
  column?: number;
}

/**
 * An input refused, with the HTTP status the API answers it with as JSON (`{ error, message, errors }`):
 * the ingestion parser, the API and the command line raise and report it alike.
 */
export class InputError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly faults: Fault[] = [],
  ) {
    super(message);
  }

  static invalid(faults: Fault[]): InputError {
    const message =
      faults.length === 1
        ? `${faults[0].pointer || '(body)'}: ${faults[0].message}`
        : `${faults.length} problems in the request`;
    return new InputError(400, 'invalid_request', message, faults);
  }

  toJSON(): object {
    return this.faults.length > 0
      ? { error: this.code, message: this.message, errors: this.faults }
      : { error: this.code, message: this.message };
  }
}

/** Escapes one reference token of a JSON pointer. */
export function pointerToken(token: string | number): string {
  return String(token).replaceAll('~', '~0').replaceAll('/', '~1');
}
