// The one error type that leaves the module it is thrown in: a code from the
// fixed set below, which callers switch on and HTTP clients read beside the
// message (`{"error": "...", "code": "bad_input"}`). A wire contract: a code
// is never renamed or reused for another meaning; new ones are added at the end.
// Sentinels that never leave their module stay plain Errors: the store codec's
// Truncated, the line protocol's LineSyntaxError, tls.ts's PairError.

export const ERROR_CODES = [
  /** A setting (environment or .env) is wrong: the service does not start. */
  'bad_setting',
  /** An operator's file (rules, sources, routes) cannot be read or used. */
  'bad_file',
  /** A request's body, parameters or headers are wrong (HTTP 400, 408, 415, 422). */
  'bad_input',
  /** A request lacks a known token (HTTP 401). */
  'unauthorized',
  /** A request's token may not do this (HTTP 403). */
  'forbidden',
  /** The request names something that does not exist (HTTP 404). */
  'not_found',
  /** The request contradicts what is stored (HTTP 409). */
  'conflict',
  /** A body or a batch is larger than the limit (HTTP 413). */
  'too_large',
  /** Too many requests or samples for now (HTTP 429). */
  'rate_limited',
  /** A dependency (NATS, Redis) is away: the same request may succeed later (HTTP 503). */
  'unavailable',
  /** A query (PromQL, a pattern) cannot be read or is not supported. */
  'bad_query',
  /** A query that was read cannot be answered from the data. */
  'query_failed',
  /** An outgoing request (a post to the receiver, a notification) failed before an answer. */
  'request_failed',
  /** Anything else: a bug or an unforeseen failure; the service log says more. */
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error with a code from ERROR_CODES; subclasses only fix the code or add fields. */
export class LoadstarError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LoadstarError';
  }
}

/** The code of any thrown value: its own for a LoadstarError, `internal` for anything else. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof LoadstarError ? err.code : 'internal';
}

/** The code an HTTP refusal with this status carries. */
export function codeOfStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
    case 431:
      return 'too_large';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'bad_input';
  }
}
