/**
 * Where the package's own files are: the addon and the in-VM runtime live at
 * fixed places under the package root, found from this module's location
 * (src/runtime/ under tsx, dist/src/runtime/ when built).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ataru') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('ataru: package root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const packageRoot = findRoot();
export const addonPath = join(packageRoot, 'build', 'Release', 'ataru.node');
export const runtimeElfPath = join(packageRoot, 'guest', 'runtime.elf');
