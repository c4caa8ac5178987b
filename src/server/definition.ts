/**
 * Definitions as the server receives them. The binary struct has no `reply`
 * field; apps sent in that form keep the original's behaviour (no
 * per-request replies on the data port) — the other forms choose.
 */
import { detectForm, parseDefinition, type AppDefinition } from '../app/index.js';

/**
 * While bytes stream in: true when they start the binary struct (a NUL in
 * its 128-byte name; text never has one), so 54,008 bytes complete it.
 */
export function startsBinary(bytes: Buffer): boolean {
  return bytes[0] !== 0x7b /* { */ && bytes.subarray(0, 128).includes(0);
}

export function isBinaryForm(bytes: Buffer): boolean {
  return detectForm(bytes) === 'binary';
}

export function parseForServer(bytes: Buffer, file: string): AppDefinition {
  const def = parseDefinition(bytes, { file });
  return isBinaryForm(bytes) ? { ...def, reply: 'none' } : def;
}
