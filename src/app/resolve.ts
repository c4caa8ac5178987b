import { join, resolve } from 'node:path';
import type { FunctionRef } from './model.js';

/**
 * The function binary of a reference: the file `name` inside the folder
 * `path` (the original concatenated the two; we join them, so a folder
 * without a trailing '/' works). A relative folder, or an empty one, is
 * relative to the folder of the definition that names it. A `name` that
 * starts with '/' is still inside `path`, as the concatenation put it
 * (`/opt/fns` + `/sub/f.elf`); only with no folder is it taken as written.
 */
export function resolveFunctionPath(ref: FunctionRef, baseDir: string): string {
  return ref.path === '' ? resolve(baseDir, ref.name) : join(resolve(baseDir, ref.path), ref.name);
}
