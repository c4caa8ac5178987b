/**
 * The one config loader for `ataru serve` and startServer(): embedded
 * defaults < JSON config file < command-line flags, validated with zod.
 *
 * Defaults: control port 9988 (the original's), HTTP API on 9990, data dir
 * ~/.ataru, everything on 127.0.0.1.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { jsonPath } from './app/json-path.js';
import { LIMITS } from './app/model.js';
import { AtaruError } from './errors.js';
import { didYouMean } from './app/suggest.js';

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
    /** Most nodes per app; at most the definition format's own limit. */
    maxNodes: positive.max(LIMITS.maxNodes).default(LIMITS.maxNodes),
    maxApps: positive.default(64),
    maxConnectionsPerApp: positive.default(256),
    /** Requests in flight per data connection; the socket pauses beyond it. */
    maxInFlightPerConnection: positive.default(64),
    /** Control-port clients connected at once; more are refused at accept. */
    maxControlConnections: positive.default(64),
    /** HTTP API connections at once; more are refused at accept. */
    maxHttpConnections: positive.default(256),
    /** Largest text definition accepted on the control port. */
    maxDefinitionBytes: positive.default(1024 * 1024),
    /** Largest function binary a deploy may name (read from a root or uploaded). */
    maxFunctionBytes: positive.default(64 * 1024 * 1024),
    /** Largest HTTP body (definition + base64 binaries, or an invoke input). */
    maxHttpBodyBytes: positive.default(64 * 1024 * 1024),
    /*
     * Server-wide caps on what all deployed apps reserve together (checked at
     * deploy, a redeploy's old version counted until it closes; docs/server.md
     * "Resource limits"). Defaults fit a 2-core machine with 24 GiB.
     */
    /** Guest memory of every instance: shm_size + the per-instance overhead. */
    maxGuestMemoryBytes: positive.default(8 * 1024 ** 3),
    /** VM instances of all apps. */
    maxInstances: positive.default(256),
    /** vCPU threads of all instances (instances x vcpus). */
    maxVcpuThreads: positive.default(512),
    /** Input bytes held by requests waiting for an instance, all apps. */
    maxQueuedBytes: positive.default(256 * 1024 * 1024),
    /** Total sink output of one request (the reply frame's u32 length caps it). */
    maxOutputBytes: positive.max(0xffff_ffff).default(64 * 1024 * 1024),
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
    /** Run every app's ataru_init again instead of mapping its stored template (the new one is stored). */
    reinit: z.boolean().default(false),
    /** Folders that control-port definitions may load functions from. */
    functionRoots: z.array(z.string().min(1)).default([process.cwd()]),
    /** Accept control-port deploys from non-loopback peers. */
    allowRemoteDeploy: z.boolean().default(false),
    /** Where statistics lines may be sent (result_ip): IPs or CIDRs. */
    resultAllow: z.array(z.string().min(1)).default(['127.0.0.0/8', '::1/128']),
    /** Interfaces raw apps (conn_type raw) may receive and transmit on; the first is their default. */
    rawInterface: z.array(z.string().regex(/^[^/:\s]{1,15}$/, 'a network interface name (1..15 characters)')).default([]),
    /** Bearer token for the HTTP API; required on a non-loopback host. */
    token: z.string().min(1).optional(),
    /**
     * A control client must send its whole definition within this time of
     * connecting (a total deadline, not an idle one: a client trickling a
     * byte a second is cut off too); a reply it never acknowledges is cut off
     * this long after it was sent.
     */
    controlTimeoutMs: positive.default(10_000),
    /** A data connection with no request in flight and no byte received for this long is closed. */
    dataIdleTimeoutMs: positive.default(60_000),
    /** Once a request's first byte arrived on a data port, its last must arrive within this time. */
    dataRequestTimeoutMs: positive.default(30_000),
    /** An HTTP request (headers and body) must arrive whole within this time of its first byte. */
    httpRequestTimeoutMs: positive.default(30_000),
    /** An HTTP connection idle between requests (keep-alive) is closed after this long. */
    httpIdleTimeoutMs: positive.default(5_000),
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
    let message = first.message;
    if (first.code === 'unrecognized_keys') {
      // "did you mean": against the keys of the object the unknown one sits in.
      const shape = first.path[0] === 'limits' ? limitsSchema.shape : serverConfigSchema.shape;
      message = first.keys.map((k) => `unknown key "${k}"${didYouMean(k, Object.keys(shape))}`).join('; ');
    }
    throw new AtaruError('BAD_REQUEST', `invalid server configuration: ${path ? `${path}: ` : ''}${message}`, {
      file: where,
      jsonPath: jsonPath(first.path),
    });
  }
  const cfg = r.data;
  cfg.dataDir = resolve(cfg.dataDir);
  cfg.functionRoots = cfg.functionRoots.map((r) => resolve(r));
  // A literal address is judged here; a host name only once it is resolved
  // (checkListenHost, before anything listens).
  if (isIP(cfg.host) && !isLoopbackAddress(cfg.host)) requireToken(cfg, where, `${cfg.host} (not loopback)`);
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

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Whether a literal IP address is loopback: 127.0.0.0/8, ::1, or 127/8 mapped into IPv6. */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Whether a host is loopback, by what it resolves to: every address must be
 * loopback. A name is never judged by its spelling ("127.x.example.com" is
 * not local); one that does not resolve is not loopback.
 */
export async function isLoopbackHost(host: string): Promise<boolean> {
  if (isIP(host)) return isLoopbackAddress(host);
  try {
    const addresses = await lookup(host, { all: true, verbatim: true });
    return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
  } catch {
    return false;
  }
}

/** Refuses a host that is not loopback when the HTTP API has no token (the host name resolved). */
export async function checkListenHost(cfg: ServerConfig, where = 'config'): Promise<void> {
  if (cfg.token || cfg.httpPort === null) return;
  if (!(await isLoopbackHost(cfg.host))) requireToken(cfg, where, `${cfg.host} (not a loopback address, or not resolvable)`);
}

function requireToken(cfg: ServerConfig, where: string, what: string): void {
  if (cfg.token || cfg.httpPort === null) return;
  throw new AtaruError('FORBIDDEN', `listening on ${what} needs an HTTP API token: pass --token or set "token"`, {
    file: where,
    field: 'token',
  });
}
