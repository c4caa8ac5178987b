/** Where the peer benchmark's files are. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const peersDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(peersDir, '..', '..');
export const buildDir = join(peersDir, 'build');
export const resultsDir = join(repoRoot, 'bench', 'results');
export const sdkInclude = join(repoRoot, 'sdk', 'include');
export const commonInclude = join(repoRoot, 'common');
