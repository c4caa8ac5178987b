/** Pieces of argument handling that several verbs share. */
import { InvalidArgumentError } from 'commander';

/** commander argParser for a repeatable option: collects every value, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** commander argParser for an integer option; commander names the flag in its error. */
export function int(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${v}"`);
  return n;
}

/** Everything on stdin, up to its end. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
