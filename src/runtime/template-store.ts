/**
 * An app version's template (native/template.h): loaded, linked and
 * initialised once, then shared copy-on-write by every instance of its pool.
 * With a store (the server's data dir) it is kept in a file named by a
 * fingerprint of everything that shapes its memory — the runtime, exec[0],
 * every function binary (and the core that reads the file) plus the layout
 * — so a restart maps it again instead of running init, and any change to a
 * binary or the layout makes a new one.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AtaruError } from '../errors.js';
import { log } from '../log.js';
import { native, type NativeAppSpec, type NativeTemplate } from './native.js';
import { addonPath } from './paths.js';
import { createError, type ResolvedSpec } from './spec.js';

export interface TemplateStoreOptions {
  /** Folder for stored templates (created when missing). */
  dir: string;
  /** Run init again even when a stored template matches (`ataru serve --reinit`). */
  reinit?: boolean;
}

export interface ObtainedTemplate {
  template: NativeTemplate;
  /** Its fingerprint in the store, when there is one. */
  key?: string;
  /** Mapped from the store (init did not run). */
  fromStore: boolean;
}

/** A hex SHA-256 over the files and layout that decide the template's bytes. */
export function templateKey(spec: NativeAppSpec): string {
  const h = createHash('sha256');
  h.update('ataru-template-1\0');
  // Contents, not paths: a restored app's files sit in a new version folder.
  const file = (path: string): void => {
    const bytes = readFileSync(path);
    h.update(`${bytes.length}\0`).update(bytes);
  };
  file(addonPath); // the core that wrote the file (its format, the runtime ABI)
  file(spec.runtimePath);
  if (spec.sharedPath) file(spec.sharedPath);
  for (const n of spec.nodes) file(n.path);
  h.update(
    JSON.stringify({
      nodes: spec.nodes.map((n) => [n.name, n.inpOff, n.outOff]),
      edges: spec.edges,
      shmSize: spec.shmSize,
      stackSize: spec.stackSize,
      vcpus: spec.vcpus,
      shared: spec.sharedPath !== undefined,
    }),
  );
  return h.digest('hex');
}

/** The template of this spec: from the store when it holds a matching one, else built (and stored). */
export async function obtainTemplate(
  resolved: ResolvedSpec,
  spec: NativeAppSpec,
  app: string,
  store?: TemplateStoreOptions,
): Promise<ObtainedTemplate> {
  let key: string | undefined;
  let path: string | undefined;
  if (store) {
    try {
      key = templateKey(spec);
      mkdirSync(store.dir, { recursive: true, mode: 0o700 });
      path = join(store.dir, `${key}.tpl`);
    } catch (err) {
      log.warn({ app, err }, 'template store unusable: init runs and the template is not kept');
      key = path = undefined;
    }
  }
  if (path && key && !store?.reinit) {
    try {
      return { template: await native().openTemplate(spec, path, key), key, fromStore: true };
    } catch (err) {
      const e = err as Error & { code?: string };
      // No file yet is the normal first deploy; anything else is worth a line.
      if (!/ENOENT|No such file/.test(e.message)) log.warn({ app, err: e.message }, 'stored template not used: init runs again');
    }
  }
  let template: NativeTemplate;
  try {
    template = await native().createTemplate(spec);
  } catch (err) {
    throw createError(err, resolved);
  }
  if (path && key) {
    try {
      await native().saveTemplate(template, path, key);
    } catch (err) {
      log.warn({ app, err: (err as Error).message }, 'cannot store the template: a restart will run init again');
    }
  }
  return { template, key, fromStore: false };
}

/** Removes stored templates whose fingerprint is not in `keep` (apps removed or redeployed). */
export function pruneTemplates(dir: string, keep: Set<string>): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^([0-9a-f]{64})\.tpl(\.tmp-\d+)?$/.exec(name);
    if (!m || (keep.has(m[1]) && !m[2])) continue;
    try {
      rmSync(join(dir, name), { force: true });
      removed++;
    } catch (err) {
      throw new AtaruError('INTERNAL', `cannot remove the stored template ${name}: ${(err as Error).message}`);
    }
  }
  return removed;
}
