import { resolve } from 'node:path';
import type { FunctionRef } from './model.js';

/**
 * The function binary of a reference: the file `name` inside the folder
 * `path` (the original concatenated the two; we join them, so a folder
 * without a trailing '/' works). A relative folder, or an empty one, is
 * relative to the folder of the definition that names it.
 */
export function resolveFunctionPath(ref: FunctionRef, baseDir: string): string {
  return resolve(baseDir, ref.path, ref.name);
}
