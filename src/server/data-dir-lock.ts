/**
 * One server per data dir: two would both write ataru.db and sweep each
 * other's blobs. `ataru.lock` holds the owner's pid; it is taken with
 * O_EXCL, and a lock whose process is gone (a crash, kill -9) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AtaruError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock on dataDir (which must exist); returns its release. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'ataru.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new AtaruError('CONFLICT', `data dir ${dataDir} is in use by another ataru server (pid ${owner}): stop it, or give this one its own --data-dir`, { file: path });
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new AtaruError('CONFLICT', `cannot take the lock ${path}: another server keeps taking it`, { file: path });
}
