/**
 * One NATS connection per node (or per `ataru invoke --nats`), from the
 * config's `nats` block. A node reconnects for ever: NATS going away must
 * never stop a server, only pause what needs the cluster.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { NatsConfig } from '../config.js';
import { AtaruError } from '../errors.js';

export interface ConnectOptions {
  /** Name the connection carries in the NATS server's monitoring. */
  name: string;
  /** false for one-shot clients: fail instead of retrying for ever. */
  reconnectForever?: boolean;
}

export async function connectNats(cfg: Pick<NatsConfig, 'servers' | 'credentials' | 'tls'>, opts: ConnectOptions): Promise<NatsConnection> {
  let authenticator;
  if (cfg.credentials) {
    let creds: Buffer;
    try {
      creds = readFileSync(cfg.credentials);
    } catch (e) {
      throw new AtaruError('NOT_FOUND', `cannot read the NATS credentials file: ${(e as Error).message}`, { file: cfg.credentials, field: 'nats.credentials' });
    }
    authenticator = credsAuthenticator(new Uint8Array(creds));
  }
  const tls = cfg.tls ? { caFile: cfg.tls.ca, certFile: cfg.tls.cert, keyFile: cfg.tls.key } : undefined;
  try {
    return await connect({
      servers: cfg.servers,
      name: opts.name,
      authenticator,
      tls,
      maxReconnectAttempts: opts.reconnectForever === false ? 10 : -1,
      reconnectTimeWait: 250,
      // The cluster's requests are small; ping often enough to notice a dead server within seconds.
      pingInterval: 5000,
      maxPingOut: 2,
    });
  } catch (e) {
    throw new AtaruError('CLOSED', `cannot reach NATS at ${cfg.servers.join(', ')}: ${(e as Error).message}`, { field: 'nats.servers' });
  }
}
