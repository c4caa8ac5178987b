/**
 * The HTTP API from the client side (the CLI's deploy, ls, inspect, ...).
 * Error replies come back as the server's AtaruError, code and location kept.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { resolveFunctionPath } from '../app/index.js';
import type { AppDefinition } from '../app/model.js';
import { AtaruError, type ErrorCode, type ErrorLocation } from '../errors.js';
import type { AppStats } from '../runtime/types.js';
import { isBinaryForm, parseForServer } from '../server/definition.js';
import { functionKey, functionRefs } from '../server/functions.js';
import { neededLibraries } from './elf-needed.js';
import type { ClusterView } from '../cluster/status.js';

export interface AppSummary {
  name: string;
  port: number;
  msg_len: number;
  nodes: number;
  reply: string;
  pktcnt: number;
  connections: number;
  requests: number;
  created: string;
}

export interface AppDetail extends AppSummary {
  definition: AppDefinition;
  edges: { from: number; to: number; from_id: string; to_id: string }[];
  instances: AppStats['instances'];
  stats: AppStats;
  /** p50/p99 over the latest successful requests (absent from older servers). */
  latency?: { requests: number; p50Us: number | null; p99Us: number | null };
  /** Raw apps: interfaces and packet counters. */
  raw?: { iface: string; outIface: string; port: number; received: number; filtered: number; transmitted: number; dropped: number; errors: Record<string, number>; windows: number };
}

export interface DeployBody {
  definition: string;
  encoding: 'text' | 'base64';
  files: Record<string, string>;
}

/**
 * Reads a definition file and every function binary it names (relative to
 * the file), with the DT_NEEDED libraries found beside each function (and
 * theirs): the server resolves libraries only among an app's uploads.
 */
export function deployBodyFromFile(file: string): DeployBody {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new AtaruError('NOT_FOUND', `cannot read the definition: ${(e as Error).message}`, { file });
  }
  const def = parseForServer(bytes, file);
  const files: Record<string, string> = {};
  for (const { ref, where } of functionRefs(def)) {
    const key = functionKey(ref);
    if (files[key]) continue;
    const path = resolveFunctionPath(ref, dirname(file));
    let bin: Buffer;
    try {
      bin = readFileSync(path);
    } catch (e) {
      throw new AtaruError('NOT_FOUND', `cannot read function binary ${path}: ${(e as Error).message}`, { file, ...where });
    }
    files[key] = bin.toString('base64');
    addLibraries(bin, dirname(path), posix.dirname(key), files);
  }
  const binary = isBinaryForm(bytes);
  return { definition: bytes.toString(binary ? 'base64' : 'utf8'), encoding: binary ? 'base64' : 'text', files };
}

/**
 * Adds the libraries `bin` needs that lie in `dir` (the loader's rule: the
 * needing file's folder), keyed in the same folder as the needing file's key.
 * One not there is left out: it may be exec[0], and otherwise the server
 * names it in its BAD_ELF reply.
 */
function addLibraries(bin: Buffer, dir: string, keyDir: string, files: Record<string, string>): void {
  for (const name of neededLibraries(bin)) {
    const key = posix.join(keyDir, name);
    if (files[key] || name.includes('/')) continue;
    let lib: Buffer;
    try {
      lib = readFileSync(join(dir, name));
    } catch {
      continue;
    }
    files[key] = lib.toString('base64');
    addLibraries(lib, dir, keyDir, files);
  }
}

/**
 * A server address as users write it: a URL, or host:port, or a bare host
 * (port 9990), or :port (loopback) — the same server either way.
 */
export function serverUrl(s: string): string {
  const t = s.trim();
  if (/^https?:\/\//i.test(t)) return t;
  const m = /^(\[[^\]]+\]|[^:/]*)(?::(\d+))?$/.exec(t);
  if (!m) throw new AtaruError('BAD_REQUEST', `--server "${s}": give a URL (http://host:port) or host:port`);
  return `http://${m[1] || '127.0.0.1'}:${m[2] ?? '9990'}`;
}

export interface LogQuery {
  follow?: boolean;
  node?: number;
  since?: string;
}

/** What a deploy answers. `raw` is there for a raw app: its port is the UDP/TCP port its packets are for, not a listener. */
export interface DeployResult {
  name: string;
  port: number;
  replaced: boolean;
  raw?: { iface: string; outIface: string };
}

export class ApiClient {
  readonly baseUrl: string;

  constructor(
    server: string,
    private readonly token?: string,
  ) {
    this.baseUrl = serverUrl(server);
  }

  private async call(method: string, path: string, body?: unknown, raw?: Buffer, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (raw) headers['content-type'] = 'application/octet-stream';
    else if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), { method, headers, signal, body: raw ? new Uint8Array(raw) : body !== undefined ? JSON.stringify(body) : undefined });
    } catch (e) {
      const cause = (e as Error & { cause?: NodeJS.ErrnoException }).cause;
      const hint = cause?.code === 'ECONNREFUSED' ? ' — is `ataru serve` running? (or set --server / ATARU_SERVER)' : '';
      throw new AtaruError('CLOSED', `cannot reach the server at ${this.baseUrl}: ${cause?.message ?? (e as Error).message}${hint}`);
    }
    if (!res.ok) {
      const text = await res.text();
      let err: { code?: ErrorCode; message?: string; location?: ErrorLocation } = {};
      try {
        err = JSON.parse(text) as typeof err;
      } catch {
        err = { message: text };
      }
      throw new AtaruError(err.code ?? 'INTERNAL', err.message ?? `${method} ${path}: HTTP ${res.status}`, err.location);
    }
    return res;
  }

  async deploy(body: DeployBody): Promise<DeployResult> {
    return (await this.call('POST', '/apps', body)).json() as Promise<DeployResult>;
  }

  async list(): Promise<AppSummary[]> {
    return (await this.call('GET', '/apps')).json() as Promise<AppSummary[]>;
  }

  async get(name: string): Promise<AppDetail> {
    return (await this.call('GET', `/apps/${encodeURIComponent(name)}`)).json() as Promise<AppDetail>;
  }

  async remove(name: string): Promise<void> {
    await this.call('DELETE', `/apps/${encodeURIComponent(name)}`);
  }

  /** GET /cluster: nodes and which app versions they serve (a cluster node only). */
  async cluster(): Promise<ClusterView> {
    return (await this.call('GET', '/cluster')).json() as Promise<ClusterView>;
  }

  /** Whether an ataru server answers at this address (GET /healthz). */
  async alive(): Promise<boolean> {
    try {
      const res = await fetch(new URL('/healthz', this.baseUrl), { signal: AbortSignal.timeout(2000) });
      return res.ok && ((await res.json()) as { status?: string }).status === 'ok';
    } catch {
      return false;
    }
  }

  /** The app's log entries (GET /apps/:name/logs, NDJSON), as they arrive when following. */
  async *logs(name: string, q: LogQuery = {}, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const params = new URLSearchParams();
    if (q.follow) params.set('follow', 'true');
    if (q.node !== undefined) params.set('node', String(q.node));
    if (q.since !== undefined) params.set('since', q.since);
    const qs = params.size ? `?${params}` : '';
    const res = await this.call('GET', `/apps/${encodeURIComponent(name)}/logs${qs}`, undefined, undefined, signal);
    if (!res.body) return;
    const decoder = new TextDecoder();
    let rest = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        rest += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (line.trim()) yield JSON.parse(line) as Record<string, unknown>;
        }
      }
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
  }

  async invoke(name: string, input: Buffer): Promise<Buffer> {
    const res = await this.call('POST', `/apps/${encodeURIComponent(name)}/invoke`, undefined, input);
    return Buffer.from(await res.arrayBuffer());
  }
}
