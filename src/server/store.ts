/**
 * Persistence in the data dir: deployed apps in SQLite (<data>/ataru.db) and
 * function binaries content-addressed under <data>/blobs/<sha256>. An app's
 * function refs map to blobs, so editing or deleting the source files later
 * never changes a deployed app, and every app comes back after a restart.
 * Blobs no app references any more are deleted by sweepBlobs().
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

export class Store {
  readonly blobDir: string;
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    this.blobDir = join(dataDir, 'blobs');
    try {
      mkdirSync(this.blobDir, { recursive: true });
      this.db = new Database(join(dataDir, 'ataru.db'));
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
