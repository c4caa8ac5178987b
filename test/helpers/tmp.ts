/** Temporary folders that tests remove again, whatever the outcome. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh folder under the system temp dir; the caller removes it. */
export function tempDir(prefix = 'ataru-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs fn with a fresh temp folder and removes the folder afterwards. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = tempDir(prefix);
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
