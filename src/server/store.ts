/**
 * Persistence in the data dir: deployed apps in SQLite (<data>/ataru.db) and
 * function binaries content-addressed under <data>/blobs/<sha256>. An app's
 * function refs map to blobs, so editing or deleting the source files later
 * never changes a deployed app, and every app comes back after a restart.
 * Blobs no app references any more are deleted by sweepBlobs().
 *
 * The loader never sees the blob folder: each loaded app version gets its
 * own folder under <data>/loaded/ holding hard links (or copies) of its own
 * files under the names the client gave them (linkVersion). A function's
 * DT_NEEDED libraries are looked up in the function's folder, so they
 * resolve only among that app's uploads, never to another tenant's blob by
 * its sha256 name. The data dir is 0700 and the database 0600: blobs and
 * definitions are other tenants' code.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, sep } from 'node:path';
import Database from 'better-sqlite3';
import type { AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';

export interface StoredApp {
  name: string;
  definition: AppDefinition;
  /** functionKey(ref) -> sha256 of the binary. */
  blobs: Record<string, string>;
  port: number;
  created: string;
}

interface Row {
  name: string;
  definition: string;
  blobs: string;
  port: number;
  created: string;
}

/**
 * Where the file a client named `key` (a functionKey or an uploaded library
 * name) lies inside a version folder: its path segments, with empty and "."
 * segments dropped and ".." kept as a literal folder name ("%2E%2E", "%"
 * escaped as "%25"), so no key leaves the folder and files the client put in
 * one folder stay together (that is where DT_NEEDED looks).
 */
export function versionPath(key: string): string {
  const segs = key
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .map((s) => (s === '..' ? '%2E%2E' : s.replace(/%/g, '%25')));
  if (segs.length === 0) throw new AtaruError('BAD_REQUEST', `"${key}" is not a file name`);
  return segs.join('/');
}

export class Store {
  readonly blobDir: string;
  /** Version folders of the loaded apps (emptied at every start). */
  readonly loadedDir: string;
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    this.blobDir = join(dataDir, 'blobs');
    this.loadedDir = join(dataDir, 'loaded');
    const dbFile = join(dataDir, 'ataru.db');
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      chmodSync(dataDir, 0o700); // an existing dir too: it holds every tenant's binaries
      mkdirSync(this.blobDir, { recursive: true, mode: 0o700 });
      // Folders of versions loaded by a previous process: nothing uses them now.
      rmSync(this.loadedDir, { recursive: true, force: true });
      mkdirSync(this.loadedDir, { mode: 0o700 });
      this.db = new Database(dbFile);
    } catch (e) {
      throw new AtaruError('INTERNAL', `cannot open the data dir: ${(e as Error).message}`, { file: dataDir });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS apps (
      name TEXT PRIMARY KEY,
      definition TEXT NOT NULL,
      blobs TEXT NOT NULL,
      port INTEGER NOT NULL,
      created TEXT NOT NULL
    )`);
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  }

  /**
   * A new folder holding this version's files (key -> sha256) under their
   * client names (versionPath); returns its absolute path. Hard links share
   * the blob's inode, so a blob swept later stays readable until the folder
   * goes (unlinkVersion); a copy is made where a link cannot be.
   */
  linkVersion(blobs: Record<string, string>): string {
    const dir = mkdtempSync(join(this.loadedDir, 'v-'));
    try {
      for (const [key, sha] of Object.entries(blobs)) {
        const target = join(dir, versionPath(key));
        const from = this.blobPath(sha);
        try {
          mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
          try {
            linkSync(from, target);
          } catch {
            copyFileSync(from, target);
          }
        } catch (e) {
          const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
          throw new AtaruError('BAD_REQUEST', `file "${key}" cannot be placed beside the app's other files (${why}): a file and a folder of the same name?`);
        }
      }
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return dir;
  }

  /** Deletes a folder made by linkVersion (the version is closed). */
  unlinkVersion(dir: string): void {
    if (!dir.startsWith(this.loadedDir + sep)) throw new AtaruError('INTERNAL', `not a version folder: ${dir}`);
    rmSync(dir, { recursive: true, force: true });
  }

  /** Stores a binary once; returns its sha256 (hex). */
  putBlob(bytes: Buffer): string {
    const sha = createHash('sha256').update(bytes).digest('hex');
    const file = this.blobPath(sha);
    if (!existsSync(file)) {
      // Write then rename: a crash never leaves a truncated blob under its hash.
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes, { mode: 0o444 });
      renameSync(tmp, file);
    }
    return sha;
  }

  blobPath(sha: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new AtaruError('INTERNAL', `not a blob hash: ${sha}`);
    return join(this.blobDir, sha);
  }

  /**
   * Deletes every file under blobs/ that no stored app references and `keep`
   * does not name; returns how many. `keep` is for binaries the process still
   * needs without a row: deploys under way, and replaced or removed versions
   * not closed yet (a failed VM instance is recreated from its ELF file, so a
   * loaded version needs its files until it is closed). Leftover .tmp files
   * of an interrupted putBlob go too: putBlob and this run synchronously, so
   * none is mid-write here.
   */
  sweepBlobs(keep: Iterable<string> = []): number {
    const live = new Set(keep);
    for (const r of this.db.prepare('SELECT blobs FROM apps').all() as { blobs: string }[]) {
      for (const sha of Object.values(JSON.parse(r.blobs) as Record<string, string>)) live.add(sha);
    }
    let deleted = 0;
    for (const e of readdirSync(this.blobDir, { withFileTypes: true })) {
      if (!e.isFile() || live.has(e.name)) continue;
      rmSync(join(this.blobDir, e.name), { force: true });
      deleted++;
    }
    return deleted;
  }

  list(): StoredApp[] {
    const rows = this.db.prepare('SELECT * FROM apps ORDER BY created').all() as Row[];
    return rows.map((r) => ({
      name: r.name,
      definition: JSON.parse(r.definition) as AppDefinition,
      blobs: JSON.parse(r.blobs) as Record<string, string>,
      port: r.port,
      created: r.created,
    }));
  }

  /** Inserts or replaces (a redeploy keeps the original creation time). */
  save(app: Omit<StoredApp, 'created'>): void {
    this.db
      .prepare(
        `INSERT INTO apps (name, definition, blobs, port, created) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET definition = excluded.definition, blobs = excluded.blobs, port = excluded.port`,
      )
      .run(app.name, JSON.stringify(app.definition), JSON.stringify(app.blobs), app.port, new Date().toISOString());
  }

  created(name: string): string | undefined {
    const r = this.db.prepare('SELECT created FROM apps WHERE name = ?').get(name) as { created: string } | undefined;
    return r?.created;
  }

  remove(name: string): void {
    this.db.prepare('DELETE FROM apps WHERE name = ?').run(name);
  }

  close(): void {
    this.db.close();
  }
}
