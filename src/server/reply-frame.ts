/**
 * The data-port reply frame: u32 status, u32 length (network order), then
 * `length` bytes — the output when status is 0, else a UTF-8 error message.
 * Status numbers are the ABI's (common/ataru_abi.h via the addon's constants).
 */
import { AtaruError, type ErrorCode } from '../errors.js';
import { native } from '../runtime/native.js';

export const FRAME_HEADER_BYTES = 8;

/** The ABI's status names are the error codes; codes without a number are INTERNAL. */
function wireStatusOf(code: ErrorCode): number {
  const s = native().constants.status;
  return s[code] ?? s.INTERNAL!;
}

let ok: number | undefined;

/** ATARU_STATUS_OK (read once from the addon). */
export function okStatus(): number {
  return (ok ??= native().constants.status.OK!);
}

export function frameHeader(status: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUInt32BE(status, 0);
  h.writeUInt32BE(length, 4);
  return h;
}

/** An error as a whole frame (header + message). */
export function errorFrame(err: unknown): Buffer {
  const e = asAtaruError(err);
  const msg = Buffer.from(e.describe(), 'utf8');
  return Buffer.concat([frameHeader(wireStatusOf(e.code), msg.length), msg]);
}

export function asAtaruError(err: unknown): AtaruError {
  if (err instanceof AtaruError) return err;
  return new AtaruError('INTERNAL', err instanceof Error ? err.message : String(err));
}
