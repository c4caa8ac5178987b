/**
 * A one-node app whose function writes through a null pointer, its binary
 * uploaded with the definition: the dashboard tests' injected fault.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { functionKey } from '../../src/server/functions.js';
import { appDef } from '../server/helpers.js';

export function faultyBody(name: string) {
  const def = appDef(name, ['nullwrite'], []);
  const node = def.nodes[0]!;
  const file = join(node.function.path, node.function.name);
  node.function = { path: 'bin', name: node.function.name };
  return { definition: JSON.stringify(def), encoding: 'text' as const, files: { [functionKey(node.function)]: readFileSync(file).toString('base64') } };
}
