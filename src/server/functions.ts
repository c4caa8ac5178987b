/**
 * Function binaries of a definition: naming them (the upload key), finding
 * them inside the configured function roots (control port), checking them,
 * and storing them as blobs so a deployed app never reads the source files
 * again.
 *
 * Reading is in two steps so the blob store only ever receives binaries that
 * passed the ELF checks: collect (async, off the event loop) → store (sync,
 * in the same run as registry.deploy, so no blob sweep falls between).
 */
import { constants as fs, realpathSync } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { posix, sep } from 'node:path';
import type { AppDefinition, FunctionRef } from '../app/model.js';
import { resolveFunctionPath } from '../app/index.js';
import { AtaruError, type ErrorLocation } from '../errors.js';
import { native, type ElfKind } from '../runtime/native.js';
import type { Store } from './store.js';

/** The key of a function in uploads and in the blob map: path/name as written. */
export function functionKey(ref: FunctionRef): string {
  return posix.join(ref.path || '.', ref.name);
}

export interface RefUse {
  ref: FunctionRef;
  where: ErrorLocation;
  /** What the loader will take the binary as. */
  kind: ElfKind;
}

/** Every function a definition names: exec[0] (shared) and one per node. */
export function functionRefs(def: AppDefinition): RefUse[] {
  const out: RefUse[] = [];
  if (def.shared) out.push({ ref: def.shared, where: { field: 'exec[0]', functionName: def.shared.name }, kind: 'shared' });
  def.nodes.forEach((n, i) =>
    out.push({ ref: n.function, where: { field: `exec[${i + 1}]`, node: i, functionName: n.function.name }, kind: 'function' }),
  );
  return out;
}

/** The binaries of a definition, checked, by functionKey; not yet stored. */
export type FunctionFiles = Map<string, Buffer>;

/**
 * Validates every use of every binary (a file may be both exec[0] and a node)
 * before any of them reaches the blob store.
 */
function checkElves(def: AppDefinition, files: FunctionFiles): void {
  for (const { ref, where, kind } of functionRefs(def)) {
    const problem = native().validateElf(files.get(functionKey(ref))!, kind);
    if (problem !== null) throw new AtaruError('BAD_ELF', `${functionKey(ref)}: ${problem}`, where);
  }
}

/** Stores checked binaries as blobs; returns key -> sha256. Synchronous: see the file comment. */
export function storeFunctions(files: FunctionFiles, store: Store): Record<string, string> {
  const blobs: Record<string, string> = {};
  for (const [key, bytes] of files) blobs[key] = store.putBlob(bytes);
  return blobs;
}

function inside(roots: readonly string[], path: string): boolean {
  return roots.some((root) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep));
}

/**
 * Reads each function from the roots, off the event loop. A path outside
 * every root — as written or once symlinks are resolved — is refused before
 * anything about the file is looked at, with the same words whether or not it
 * exists, so a client learns nothing of files outside the roots. Inside them
 * only a regular file up to `maxBytes` is read: a FIFO or a device is refused
 * at open (O_NONBLOCK: opening a FIFO never waits for a writer), and the
 * size is that of the open file, not of a path that may change meanwhile.
 * Relative paths are taken from the first root.
 */
export async function readFromRoots(def: AppDefinition, roots: string[], maxBytes: number): Promise<FunctionFiles> {
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
  const files: FunctionFiles = new Map();
  for (const { ref, where } of functionRefs(def)) {
    const key = functionKey(ref);
    if (files.has(key)) continue;
    const file = resolveFunctionPath(ref, realRoots[0]!);
    const outside = () =>
      new AtaruError('FORBIDDEN', `function ${file} lies outside the function roots (${realRoots.join(', ')}); start the server with --function-root`, where);
    if (!inside(realRoots, file)) throw outside();
    let real: string;
    try {
      real = await realpath(file);
    } catch {
      throw new AtaruError('BAD_DEFINITION', `function binary not found in the function roots: ${file}`, where);
    }
    if (!inside(realRoots, real)) throw outside();
    files.set(key, await readRegularFile(real, file, maxBytes, where));
  }
  checkElves(def, files);
  await readLibrariesFromRoots(def, files, realRoots, maxBytes);
  return files;
}

/**
 * The DT_NEEDED libraries of the functions just read, from the roots: the
 * loader finds a library in the folder of the function that needs it, so
 * each one is read from the folder the function lies in (a library's own
 * libraries from that same folder), keyed as an upload would be
 * (folder/name). The same rules as for functions hold: inside the roots as
 * written and once resolved, a regular file within the size limit, valid as
 * a library before anything is stored. A library that is not there is named
 * with the function that needs it.
 */
async function readLibrariesFromRoots(def: AppDefinition, files: FunctionFiles, realRoots: string[], maxBytes: number): Promise<void> {
  const queue: { key: string; kind: 'shared' | 'function' | 'library'; folder: string; where: ErrorLocation }[] = [];
  for (const { ref, where, kind } of functionRefs(def)) {
    if (kind === 'runtime') continue;
    queue.push({ key: functionKey(ref), kind, folder: posix.dirname(resolveFunctionPath(ref, realRoots[0]!)), where });
  }
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { key, kind, folder, where } = queue.shift()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const needed = native().elfNeeded(files.get(key)!, kind);
    if (typeof needed === 'string') throw new AtaruError('BAD_ELF', `${key}: ${needed}`, where);
    for (const name of needed) {
      if (name === '' || name.includes('/') || name === '.' || name === '..') {
        throw new AtaruError('BAD_ELF', `${key}: DT_NEEDED name "${name}" must be a plain file name (the library lies next to the function)`, where);
      }
      const libKey = posix.join(posix.dirname(key), name);
      if (files.has(libKey)) {
        if (!seen.has(libKey)) queue.push({ key: libKey, kind: 'library', folder, where });
        continue;
      }
      const file = posix.join(folder, name);
      const missing = () =>
        new AtaruError('BAD_ELF', `${key} needs library ${name}, which is not in its folder inside the function roots (${file})`, where);
      let real: string;
      try {
        real = await realpath(file);
      } catch {
        throw missing();
      }
      if (!inside(realRoots, real)) throw missing(); // same words: nothing is told about files outside the roots
      const bytes = await readRegularFile(real, file, maxBytes, where);
      const problem = native().validateElf(bytes, 'library');
      if (problem !== null) throw new AtaruError('BAD_ELF', `library ${libKey} (needed by ${key}): ${problem}`, where);
      files.set(libKey, bytes);
      queue.push({ key: libKey, kind: 'library', folder, where });
    }
  }
}

async function readRegularFile(real: string, shown: string, maxBytes: number, where: ErrorLocation): Promise<Buffer> {
  let handle;
  try {
    handle = await open(real, fs.O_RDONLY | fs.O_NONBLOCK | fs.O_NOFOLLOW);
  } catch (e) {
    throw new AtaruError('BAD_DEFINITION', `cannot open function binary ${shown}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, where);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new AtaruError('BAD_ELF', `function ${shown} is not a regular file`, where);
    if (st.size > maxBytes) {
      throw new AtaruError('TOO_LARGE', `function ${shown} is ${st.size} bytes, over this server's limit of ${maxBytes} (limits.maxFunctionBytes)`, where);
    }
    // Read what the file holds now, at most one byte past the limit: a file
    // that grows after the stat is still bounded.
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got > maxBytes) throw new AtaruError('TOO_LARGE', `function ${shown} is over this server's limit of ${maxBytes} bytes (limits.maxFunctionBytes)`, where);
    return buf.subarray(0, got);
  } finally {
    await handle.close();
  }
}

/** The uploaded binaries (base64 by functionKey), checked; every function must be there. */
export function readUploads(def: AppDefinition, uploads: Record<string, string>, maxBytes: number): FunctionFiles {
  const files: FunctionFiles = new Map();
  for (const { ref, where } of functionRefs(def)) {
    const key = functionKey(ref);
    if (files.has(key)) continue;
    const b64 = uploads[key];
    if (b64 === undefined) {
      const have = Object.keys(uploads);
      throw new AtaruError(
        'BAD_DEFINITION',
        `function binary not uploaded: expected files["${key}"]${have.length ? ` (got ${have.map((k) => `"${k}"`).join(', ')})` : ''}`,
        where,
      );
    }
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length === 0) throw new AtaruError('BAD_DEFINITION', `uploaded binary files["${key}"] is empty`, where);
    if (bytes.length > maxBytes) {
      throw new AtaruError('TOO_LARGE', `uploaded binary files["${key}"] is ${bytes.length} bytes, over this server's limit of ${maxBytes}`, where);
    }
    files.set(key, bytes);
  }
  checkElves(def, files);
  // Any other file is a DT_NEEDED library, keyed by its path as the client
  // names it (the folder of the function that needs it + its file name),
  // checked as a library before anything is stored. Libraries resolve only
  // among these (the version's own folder, store.ts).
  for (const [key, b64] of Object.entries(uploads)) {
    if (files.has(key)) continue;
    const where = { field: `files["${key}"]` };
    if (key === '' || key.endsWith('/') || posix.normalize(key) !== key) {
      throw new AtaruError('BAD_REQUEST', `uploaded file name "${key}" is not a normalized file path`, where);
    }
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length > maxBytes) {
      throw new AtaruError('TOO_LARGE', `uploaded library files["${key}"] is ${bytes.length} bytes, over this server's limit of ${maxBytes}`, where);
    }
    const problem = native().validateElf(bytes, 'library');
    if (problem !== null) throw new AtaruError('BAD_ELF', `uploaded library files["${key}"]: ${problem}`, where);
    files.set(key, bytes);
  }
  return files;
}
