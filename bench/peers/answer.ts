/**
 * The answer check: every system must compute the same output for the same
 * request, or its figures count for nothing. Systems report either the
 * output bytes or (the qemu guest, the native harness) its length and
 * FNV-1a 64 digest; both are compared as (length, digest) against the
 * expected output computed in TypeScript.
 */
export interface Answer {
  length: number;
  /** FNV-1a 64 of the output, 16 lowercase hex digits. */
  digest: string;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a 64 (the hash workload and the answer digest). */
export function fnv1a64(buf: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const b of buf) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

export function answerOf(output: Uint8Array): Answer {
  return { length: output.length, digest: fnv1a64(output).toString(16).padStart(16, '0') };
}

export function sameAnswer(a: Answer, b: Answer): boolean {
  return a.length === b.length && a.digest === b.digest;
}

export function describeAnswer(a: Answer): string {
  return `${a.length} B, fnv ${a.digest}`;
}

/** Parses the "<len> <digest>" that the C harnesses and the qemu guest print. */
export function parseAnswerLine(line: string): Answer | undefined {
  const m = /^\s*(\d+)\s+([0-9a-f]{16})\s*$/.exec(line);
  return m ? { length: Number(m[1]), digest: m[2]! } : undefined;
}

/** Thrown when a system's answer differs: the harness then refuses to
 * report that system for that workload. */
export class WrongAnswerError extends Error {
  constructor(
    readonly system: string,
    readonly workload: string,
    readonly expected: Answer,
    readonly got: Answer | string,
  ) {
    super(
      `${system} on ${workload}: wrong answer (${typeof got === 'string' ? got : describeAnswer(got)}; expected ${describeAnswer(expected)})`,
    );
  }
}

/** Checks one reported answer; throws WrongAnswerError when it differs. */
export function checkAnswer(system: string, workload: string, expected: Answer, got: Answer | Uint8Array): void {
  const a = got instanceof Uint8Array ? answerOf(got) : got;
  if (!sameAnswer(a, expected)) throw new WrongAnswerError(system, workload, expected, a);
}

/** Per-request check on the measured path: a byte compare (cheap next to
 * any request), so that no wrong reply is ever counted. */
export function expectOutput(system: string, w: { id: string; expected: Uint8Array }, out: Uint8Array): void {
  if (out.length !== w.expected.length || Buffer.compare(Buffer.from(out.buffer, out.byteOffset, out.length), w.expected) !== 0) {
    throw new WrongAnswerError(system, w.id, answerOf(w.expected), answerOf(out));
  }
}
