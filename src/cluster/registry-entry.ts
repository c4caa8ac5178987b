/**
 * One app in the cluster's KV bucket (key: names.ts appToken(name)). The
 * bucket's own revision orders every change; `version` counts the deploys
 * of this name (1, 2, ...; a removed and re-deployed name starts again).
 */
import { assertValidDefinition } from '../app/index.js';
import type { AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';

export interface RegistryEntry {
  name: string;
  definition: AppDefinition;
  /** functionKey(ref) -> sha256 of the binary in the object store. */
  blobs: Record<string, string>;
  version: number;
  /** First deploy of this name (ISO time); a redeploy keeps it. */
  created: string;
  /** This version's deploy. */
  updated: string;
  /** The node and the API that deployed this version, e.g. "n1 (http 127.0.0.1)". */
  deployer: string;
}

export function encodeEntry(e: RegistryEntry): string {
  return JSON.stringify(e);
}

/** Parses and checks a bucket value; `key` names it in errors. */
export function decodeEntry(text: string, key: string): RegistryEntry {
  let e: RegistryEntry;
  try {
    e = JSON.parse(text) as RegistryEntry;
  } catch (err) {
    throw new AtaruError('BAD_DEFINITION', `registry entry ${key} is not JSON: ${(err as Error).message}`);
  }
  if (!e || typeof e.name !== 'string' || typeof e.version !== 'number' || typeof e.blobs !== 'object' || !e.definition) {
    throw new AtaruError('BAD_DEFINITION', `registry entry ${key} lacks name, version, blobs or definition`);
  }
  if (e.definition.name !== e.name) throw new AtaruError('BAD_DEFINITION', `registry entry ${key}: definition names "${e.definition.name}", not "${e.name}"`);
  for (const sha of Object.values(e.blobs)) {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new AtaruError('BAD_DEFINITION', `registry entry ${key}: "${sha}" is not a sha256`);
  }
  assertValidDefinition(e.definition);
  return e;
}
