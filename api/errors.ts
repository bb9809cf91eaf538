/** One fault in a request, located by a JSON pointer (RFC 6901) into the body. */
export interface Fault {
  pointer: string;
  message: string;
}

/** An error with an HTTP status that the API answers as JSON: `{ error, message, errors }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly faults: Fault[] = [],
  ) {
    super(message);
  }

  static invalid(faults: Fault[]): HttpError {
    const message =
      faults.length === 1
        ? `${faults[0].pointer || '(body)'}: ${faults[0].message}`
        : `${faults.length} problems in the request`;
    return new HttpError(400, 'invalid_request', message, faults);
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
