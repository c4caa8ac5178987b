/**
 * Function binaries between the node's blob folder (Store, content-addressed
 * by sha256) and the cluster's JetStream object store (objects named by the
 * same sha256). A deploy uploads what the store lacks; a node applying a
 * version fetches what its folder lacks, checks the bytes hash to their name,
 * and keeps them in its data dir.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ObjectStore } from '@nats-io/obj';
import { AtaruError } from '../errors.js';
import type { Store } from '../server/store.js';

export class BlobSync {
  constructor(
    private readonly os: ObjectStore,
    private readonly store: Store,
  ) {}

  /** Puts every binary of `blobs` the object store does not hold yet. */
  async upload(blobs: Record<string, string>): Promise<void> {
    for (const sha of new Set(Object.values(blobs))) {
      if (await this.os.info(sha)) continue;
      await this.os.putBlob({ name: sha }, readFileSync(this.store.blobPath(sha)));
    }
  }

  /** The shas of `blobs` not in the local folder. */
  missing(blobs: Record<string, string>): string[] {
    return [...new Set(Object.values(blobs))].filter((sha) => !existsSync(this.store.blobPath(sha)));
  }

  /** Fetches and verifies the given binaries (kept in memory: storing them is keep()'s job). */
  async fetch(shas: string[], app: string): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const sha of shas) {
      const bytes = await this.os.getBlob(sha);
      if (!bytes) throw new AtaruError('NOT_FOUND', `app "${app}": binary ${sha} is not in the cluster's object store`);
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const got = createHash('sha256').update(buf).digest('hex');
      if (got !== sha) throw new AtaruError('INTERNAL', `app "${app}": object ${sha} holds bytes hashing to ${got}`);
      out.set(sha, buf);
    }
    return out;
  }

  /** Writes fetched binaries to the local folder (synchronously: no sweep can fall in between). */
  keep(fetched: Map<string, Buffer>): void {
    for (const buf of fetched.values()) this.store.putBlob(buf);
  }
}
