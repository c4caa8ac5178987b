/**
 * The one config loader for `ataru serve` and startServer(): embedded
 * defaults < JSON config file < command-line flags, validated with zod.
 *
 * Defaults: control port 9988 (the original's), HTTP API on 9990, data dir
 * ~/.ataru, everything on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { jsonPath } from './app/json-path.js';
import { AtaruError } from './errors.js';

/** The defaults that `ataru serve` listens on and the client verbs talk to. */
export const DEFAULT_HOST = '127.0.0.1';
/** The original's control port. */
export const DEFAULT_CONTROL_PORT = 9988;
export const DEFAULT_HTTP_PORT = 9990;

const port = z.number().int().min(0).max(65535);
const positive = z.number().int().positive();

export const limitsSchema = z
  .object({
    /** Largest msg_len an app may declare (bytes per data-port request). */
    maxMsgLen: positive.default(2 * 1024 * 1024),
    maxNodes: positive.default(255),
    maxApps: positive.default(64),
    maxConnectionsPerApp: positive.default(256),
    /** Requests in flight per data connection; the socket pauses beyond it. */
    maxInFlightPerConnection: positive.default(64),
    /** Largest text definition accepted on the control port. */
    maxDefinitionBytes: positive.default(1024 * 1024),
    /** Largest HTTP body (definition + base64 binaries, or an invoke input). */
    maxHttpBodyBytes: positive.default(64 * 1024 * 1024),
  })
  .strict();

/** Where the cluster's NATS servers are and how to authenticate (docs/scaling.md). */
export const natsSchema = z
  .object({
    /** nats://host:port URLs; several for a NATS cluster (the client fails over). */
    servers: z.array(z.string().min(1)).min(1),
    /** A .creds file (JWT + NKey seed) for the NATS account. */
    credentials: z.string().min(1).optional(),
    /** TLS to the NATS servers: CA to verify them, and a client certificate if they ask for one. */
    tls: z.object({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() }).strict().optional(),
    /** JetStream replicas of the registry bucket and the binary store (3 on a NATS cluster of three). */
    replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
  })
  .strict();

/** When a node sends an invocation to the cluster instead of running it here. */
export const FORWARD_MODES = ['absent', 'saturated', 'never'] as const;

export const clusterSchema = z
  .object({
    /** Names the KV bucket, the object store and the subjects; nodes with the same name form one cluster. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "-" and "_" only (1..64)').default('ataru'),
    /** This node's name in `ataru ls --cluster` and metrics; default host:pid. */
    node: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'letters, digits, ".", ":", "-" and "_" only').optional(),
    /** absent: forward only apps with no local instances; saturated: also when every local instance is busy; never. */
    forward: z.enum(FORWARD_MODES).default('absent'),
    /** How long a forwarded request waits for a node's reply before it is retried (stateless apps) or fails. */
    timeoutMs: positive.default(10_000),
    /** false: run no app here, only forward (a front door without KVM). */
    serve: z.boolean().default(true),
  })
  .strict();

export const serverConfigSchema = z
  .object({
    host: z.string().min(1).default(DEFAULT_HOST),
    /** 0: any free port (tests); null: no control port. */
    controlPort: port.nullable().default(DEFAULT_CONTROL_PORT),
    /** 0: any free port (tests); null: no HTTP API. */
    httpPort: port.nullable().default(DEFAULT_HTTP_PORT),
    dataDir: z.string().min(1).default(join(homedir(), '.ataru')),
    /** Folders that control-port definitions may load functions from. */
    functionRoots: z.array(z.string().min(1)).default([process.cwd()]),
    /** Accept control-port deploys from non-loopback peers. */
    allowRemoteDeploy: z.boolean().default(false),
    /** Where statistics lines may be sent (result_ip): IPs or CIDRs. */
    resultAllow: z.array(z.string().min(1)).default(['127.0.0.0/8', '::1/128']),
    /** Bearer token for the HTTP API; required on a non-loopback host. */
    token: z.string().min(1).optional(),
    /** A control client must send its whole definition within this time. */
    controlTimeoutMs: positive.default(10_000),
    limits: limitsSchema.default(limitsSchema.parse({})),
    /** Join a cluster over NATS; absent: a single machine (SQLite + blob folder). */
    nats: natsSchema.optional(),
    cluster: clusterSchema.default(clusterSchema.parse({})),
  })
  .strict();

export type ServerConfig = z.infer<typeof serverConfigSchema>;
export type ServerLimits = z.infer<typeof limitsSchema>;
export type NatsConfig = z.infer<typeof natsSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
/** What callers pass: any subset, limits partial too. */
export type ServerConfigInput = z.input<typeof serverConfigSchema>;

/** Validates a partial config and fills in the defaults. */
export function makeConfig(input: ServerConfigInput = {}, where = 'config'): ServerConfig {
  const r = serverConfigSchema.safeParse(input);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const path = first.path.join('.');
    throw new AtaruError('BAD_REQUEST', `invalid server configuration: ${path ? `${path}: ` : ''}${first.message}`, {
      file: where,
      jsonPath: jsonPath(first.path),
    });
  }
  const cfg = r.data;
  cfg.dataDir = resolve(cfg.dataDir);
  cfg.functionRoots = cfg.functionRoots.map((r) => resolve(r));
  if (!isLoopbackHost(cfg.host) && !cfg.token && cfg.httpPort !== null) {
    throw new AtaruError(
      'FORBIDDEN',
      `listening on ${cfg.host} (not loopback) needs an HTTP API token: pass --token or set "token"`,
      { file: where, field: 'token' },
    );
  }
  return cfg;
}

/** Reads a JSON config file, then lays flags over it (flags win; an
 * undefined flag, top-level or in limits, leaves the file's value). */
export function loadConfig(file: string | undefined, flags: ServerConfigInput): ServerConfig {
  let fromFile: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new AtaruError('NOT_FOUND', `cannot read config file: ${(e as Error).message}`, { file });
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new AtaruError('BAD_REQUEST', `config file is not valid JSON: ${(e as Error).message}`, { file });
    }
  }
  const limits = { ...((fromFile.limits as object) ?? {}), ...definedOnly(flags.limits ?? {}) };
  const cluster = { ...((fromFile.cluster as object) ?? {}), ...definedOnly(flags.cluster ?? {}) };
  // --nats URLs replace the file's servers; its credentials and tls stay.
  const fileNats = fromFile.nats as Record<string, unknown> | undefined;
  const nats = flags.nats ? { ...(fileNats ?? {}), ...definedOnly(flags.nats) } : fileNats;
  return makeConfig({ ...fromFile, ...definedOnly(flags), limits, cluster, ...(nats ? { nats } : {}) } as ServerConfigInput, file ?? 'flags');
}

function definedOnly(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1';
}
