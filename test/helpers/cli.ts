/**
 * The one way tests run the ataru CLI as a child process: node with tsx on
 * the source entry (the tests have no dist/ build). tsx is named by absolute
 * URL, so the child may run in any folder.
 */
import { fileURLToPath } from 'node:url';

const cliEntry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
const tsxImport = import.meta.resolve('tsx');

/** Arguments for process.execPath that run `ataru ...args`. */
export function cliArgs(...args: string[]): string[] {
  return ['--import', tsxImport, cliEntry, ...args];
}
