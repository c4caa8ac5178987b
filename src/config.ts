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
  })
  .strict();

export type ServerConfig = z.infer<typeof serverConfigSchema>;
export type ServerLimits = z.infer<typeof limitsSchema>;
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
  return makeConfig({ ...fromFile, ...definedOnly(flags), limits } as ServerConfigInput, file ?? 'flags');
}

function definedOnly(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1';
}
