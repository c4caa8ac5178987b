/**
 * The one error hierarchy. Every failure that reaches a user — CLI, HTTP API,
 * control port, data-port reply frame — is an AtaruError with a stable code.
 * The wire status numbers come from common/ataru_abi.h (exported by the addon)
 * and are mirrored here only as names; see statusOf().
 */

/** Stable error codes. Scripts match on these; extend, never rename. */
export type ErrorCode =
  | 'BAD_DEFINITION' // an app definition (template, binary, JSON) is invalid
  | 'BAD_ELF' // a function binary is rejected by the loader
  | 'BAD_REQUEST' // a request is malformed (size, format)
  | 'FUNCTION_ERROR' // a function returned a negative code
  | 'FAULT' // a function faulted (CPU exception, bad port, ...)
  | 'TIMEOUT' // a node or request ran past its deadline
  | 'BUSY' // queue full / limits reached
  | 'NOT_FOUND' // no such app
  | 'CONFLICT' // e.g. port already used
  | 'UNAUTHENTICATED' // the HTTP API's bearer token is missing or wrong
  | 'FORBIDDEN' // path outside the function roots, a refused peer or target, ...
  | 'TOO_LARGE' // a request body or definition over this server's size limit
  | 'OUTPUT_TOO_LARGE'
  | 'CLOSED' // the app or server is shutting down
  | 'KVM_UNAVAILABLE'
  | 'INIT_FAILED' // an app's ataru_init hook failed, faulted or timed out at deploy
  | 'INTERNAL';

/** Where in the input a problem was found. */
export interface ErrorLocation {
  file?: string;
  line?: number; // 1-based, templates
  column?: number;
  offset?: number; // byte offset, binary wire form
  field?: string; // field name, e.g. "exec[3].out_off"
  jsonPath?: string; // e.g. "$.nodes[2].function"
  node?: number; // DAG node index
  functionName?: string;
}

export class AtaruError extends Error {
  readonly code: ErrorCode;
  readonly location?: ErrorLocation;
  /** Further problems found in the same input (all reported at once). */
  readonly details: AtaruError[];

  constructor(code: ErrorCode, message: string, location?: ErrorLocation, details: AtaruError[] = []) {
    super(message);
    this.name = 'AtaruError';
    this.code = code;
    this.location = location;
    this.details = details;
  }

  /** "file:line: message" style, with every detail on its own line. */
  describe(): string {
    const lines = [formatOne(this)];
    for (const d of this.details) lines.push(formatOne(d));
    return lines.join('\n');
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.location ? { location: this.location } : {}),
      ...(this.details.length ? { details: this.details.map((d) => d.toJSON()) } : {}),
    };
  }
}

function formatOne(e: AtaruError): string {
  const l = e.location;
  if (!l) return e.message;
  const where: string[] = [];
  if (l.file) where.push(l.line !== undefined ? `${l.file}:${l.line}` : l.file);
  else if (l.line !== undefined) where.push(`line ${l.line}`);
  if (l.offset !== undefined) where.push(`byte ${l.offset}`);
  if (l.jsonPath) where.push(l.jsonPath);
  // The entry of the definition (exec[2], exec[0], conn_type) is named unless
  // the message already names it: a refusal of exec[0] must say it is exec[0].
  const entry = l.field !== undefined && !l.jsonPath && !e.message.includes(l.field) ? l.field : undefined;
  const fn = l.functionName ? ` (${l.functionName})` : '';
  if (l.node !== undefined) where.push(`${entry ? `${entry}, ` : ''}node ${l.node}${fn}`);
  else if (entry) where.push(`${entry}${fn}`);
  return where.length ? `${where.join(', ')}: ${e.message}` : e.message;
}

/** HTTP status for an error code (the HTTP API maps from this, nothing else). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'BAD_DEFINITION':
    case 'BAD_ELF':
    case 'BAD_REQUEST':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'OUTPUT_TOO_LARGE':
    case 'TOO_LARGE':
      return 413;
    case 'FUNCTION_ERROR':
    case 'FAULT':
    case 'INIT_FAILED':
      return 422;
    case 'BUSY':
      return 429;
    case 'TIMEOUT':
      return 504;
    case 'CLOSED':
    case 'KVM_UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}
