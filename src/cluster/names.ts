/**
 * Everything a cluster names in NATS, derived from the cluster name so that
 * several clusters can share one NATS deployment:
 *
 *   <cluster>_apps            KV bucket: one entry per app (registry-entry.ts)
 *   <cluster>_blobs           object store: function binaries, named by sha256
 *   <cluster>.invoke.<app>    invocations (queue group "serve", messages.ts)
 *   <cluster>.status          every node answers with what it serves (status.ts)
 *
 * App names may hold characters that KV keys and subject tokens may not
 * (".", "*", ">", spaces, any UTF-8), so a name outside [A-Za-z0-9_-] is
 * written as "=" + the hex of its UTF-8 bytes; "=" never starts a plain name.
 */
export const QUEUE_GROUP = 'serve';

const PLAIN = /^[A-Za-z0-9_-]+$/;

export function appToken(app: string): string {
  return PLAIN.test(app) ? app : `=${Buffer.from(app, 'utf8').toString('hex')}`;
}

export function appFromToken(token: string): string {
  return token.startsWith('=') ? Buffer.from(token.slice(1), 'hex').toString('utf8') : token;
}

export const names = (cluster: string) => ({
  bucket: `${cluster}_apps`,
  blobs: `${cluster}_blobs`,
  invoke: (app: string) => `${cluster}.invoke.${appToken(app)}`,
  status: `${cluster}.status`,
});
