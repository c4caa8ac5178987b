/**
 * Function binaries of a definition: naming them (the upload key), finding
 * them inside the configured function roots (control port), and storing them
 * as blobs so a deployed app never reads the source files again.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { posix, sep } from 'node:path';
import type { AppDefinition, FunctionRef } from '../app/model.js';
import { resolveFunctionPath } from '../app/index.js';
import { AtaruError, type ErrorLocation } from '../errors.js';
import { native } from '../runtime/native.js';
import type { Store } from './store.js';

/** The key of a function in uploads and in the blob map: path/name as written. */
export function functionKey(ref: FunctionRef): string {
  return posix.join(ref.path || '.', ref.name);
}

export interface RefUse {
  ref: FunctionRef;
  where: ErrorLocation;
}

/** Every function a definition names: exec[0] (shared) and one per node. */
export function functionRefs(def: AppDefinition): RefUse[] {
  const out: RefUse[] = [];
  if (def.shared) out.push({ ref: def.shared, where: { field: 'exec[0]', functionName: def.shared.name } });
  def.nodes.forEach((n, i) =>
    out.push({ ref: n.function, where: { field: `exec[${i + 1}]`, node: i, functionName: n.function.name } }),
  );
  return out;
}

/**
 * Reads each function from disk, refusing any whose real path (symlinks and
 * `..` resolved) is outside every root; relative paths are taken from the
 * first root. Stores the bytes as blobs; returns key -> sha256.
 */
export function storeFromRoots(def: AppDefinition, roots: string[], store: Store): Record<string, string> {
  if (roots.length === 0) {
    throw new AtaruError('FORBIDDEN', 'this server has no function roots: deploy through the HTTP API with uploads');
  }
  const realRoots = roots.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      throw new AtaruError('INTERNAL', `function root does not exist: ${r}`);
    }
  });
  const blobs: Record<string, string> = {};
  for (const { ref, where } of functionRefs(def)) {
    const key = functionKey(ref);
    if (blobs[key]) continue;
    const file = resolveFunctionPath(ref, realRoots[0]!);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      throw new AtaruError('BAD_DEFINITION', `function binary not found: ${file}`, where);
    }
    if (!realRoots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) {
      throw new AtaruError(
        'FORBIDDEN',
        `function ${file} lies outside the function roots (${realRoots.join(', ')}); start the server with --function-root`,
        where,
      );
    }
    blobs[key] = store.putBlob(readFileSync(real));
  }
  return blobs;
}

/**
 * Stores uploaded binaries (base64 by functionKey); every function must be
 * there. Any other file is a DT_NEEDED library, keyed by its path as the
 * client names it (the folder of the function that needs it + its file
 * name); it is validated as a library before it is stored.
 */
export function storeFromUploads(def: AppDefinition, files: Record<string, string>, store: Store): Record<string, string> {
  const blobs: Record<string, string> = {};
  for (const { ref, where } of functionRefs(def)) {
    const key = functionKey(ref);
    if (blobs[key]) continue;
    const b64 = files[key];
    if (b64 === undefined) {
      const have = Object.keys(files);
      throw new AtaruError(
        'BAD_DEFINITION',
        `function binary not uploaded: expected files["${key}"]${have.length ? ` (got ${have.map((k) => `"${k}"`).join(', ')})` : ''}`,
        where,
      );
    }
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length === 0) throw new AtaruError('BAD_DEFINITION', `uploaded binary files["${key}"] is empty`, where);
    blobs[key] = store.putBlob(bytes);
  }
  for (const [key, b64] of Object.entries(files)) {
    if (blobs[key]) continue;
    const where = { field: `files["${key}"]` };
    if (key === '' || key.endsWith('/') || posix.normalize(key) !== key) {
      throw new AtaruError('BAD_REQUEST', `uploaded file name "${key}" is not a normalized file path`, where);
    }
    const bytes = Buffer.from(b64, 'base64');
    const problem = native().validateElf(bytes, 'library');
    if (problem !== null) throw new AtaruError('BAD_ELF', `uploaded library files["${key}"]: ${problem}`, where);
    blobs[key] = store.putBlob(bytes);
  }
  return blobs;
}
