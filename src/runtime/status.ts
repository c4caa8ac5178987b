/**
 * Native status codes (common/ataru_abi.h, exported by the addon) to
 * AtaruError. The status names are the error codes, so no number is
 * repeated here.
 */
import { AtaruError, type ErrorCode } from '../errors.js';
import { native, type NativeResult } from './native.js';

const RUN_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BAD_REQUEST',
  'FUNCTION_ERROR',
  'FAULT',
  'TIMEOUT',
  'OUTPUT_TOO_LARGE',
  'BUSY',
  'INTERNAL',
  'CLOSED',
]);

let names: Map<number, string> | undefined;

/** The status name for a native status number ("OK", "FAULT", ...). */
export function statusName(status: number): string {
  if (!names) names = new Map(Object.entries(native().constants.status).map(([k, v]) => [v, k]));
  return names.get(status) ?? `STATUS_${status}`;
}

/** The error code a failed run maps to (unknown statuses are INTERNAL). */
export function errorCodeOf(status: number): ErrorCode {
  const name = statusName(status) as ErrorCode;
  return RUN_CODES.has(name) ? name : 'INTERNAL';
}

/** The AtaruError for a failed native result; nodeNames[k] names node k. */
export function runError(res: NativeResult, nodeNames: readonly string[]): AtaruError {
  const code = errorCodeOf(res.status);
  const node = res.failedNode !== native().constants.layout.NO_NODE ? res.failedNode : undefined;
  let message = res.message || native().constants.statusText[statusName(res.status)] || code.toLowerCase();
  if (node === undefined) return new AtaruError(code, message);
  // The location carries the node; describe() puts it in front again.
  const label = `node ${node} (${nodeNames[node]}): `;
  if (message.startsWith(label)) message = message.slice(label.length);
  return new AtaruError(code, message, { node, functionName: nodeNames[node] });
}
