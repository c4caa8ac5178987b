/** Pieces of argument handling that several verbs share. */

/** commander argParser for a repeatable option: collects every value, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Everything on stdin, up to its end. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
