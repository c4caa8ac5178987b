/**
 * AppDefinition: the one model of an application. The template text, the
 * 54,008-byte binary wire struct and the JSON form all decode to this
 * (src/app/template.ts, binary.ts, json.ts) and encode from it; everything
 * downstream (runtime, server, CLI) uses only this.
 *
 * Node k of the DAG is exec[k+1] of the original; exec[0] is `shared`.
 */

export type ConnType = 'tcp' | 'raw';
export type ReplyMode = 'frames' | 'none';
export type StateMode = 'reset' | 'keep';

/** A function binary: folder + file name, as the original's exec[i]. */
export interface FunctionRef {
  /** Folder, as written (absolute, or relative to the definition's folder). */
  path: string;
  /** File name inside the folder. */
  name: string;
}

export interface NodeDef {
  /** Unique node name (JSON edges use it); defaults to the function's file name, suffixed `_k` when several nodes share it (src/app/ids.ts). */
  id: string;
  function: FunctionRef;
  inp_off: number;
  out_off: number;
  /** Per-node deadline in ms (extension); undefined: only the request deadline. */
  timeout_ms?: number;
}

export interface Edge {
  from: number;
  to: number;
}

export interface AppDefinition {
  name: string;
  conn_type: ConnType;
  /** 0: any free port. */
  conn_port: number;
  /** Bytes per request on the data port. */
  msg_len: number;
  server_ip: string;
  result_ip: string;
  result_port: number;
  /** Requests per connection before the statistics line (0 = unlimited). */
  pktcnt: number;
  /** exec[0], the shared code image, if any. */
  shared?: FunctionRef;
  nodes: NodeDef[];
  edges: Edge[];

  // ---- Ataru extensions (template keys documented in docs/app-definitions.md) ----
  /** Request deadline in ms. */
  timeout_ms: number;
  /** Pool size (VMs). 0: sized to the machine. Fixes both bounds unless min/max_instances say otherwise. */
  instances: number;
  /** Fewest VMs kept (0: as `instances`). */
  min_instances: number;
  /** Most VMs the pool grows to while requests queue (0: as `instances`). */
  max_instances: number;
  /** An idle VM beyond min_instances is released after this long, ms. */
  idle_release_ms: number;
  /** vCPUs per instance. */
  vcpus: number;
  /** Per-request replies on the data port. */
  reply: ReplyMode;
  /** 'reset': clean memory per request (default); 'keep': as the original. */
  state: StateMode;
  /** Shared region size in bytes (default 2 MiB). */
  shm_size: number;
  /** Max queued requests per app before BUSY. */
  queue_limit: number;
  /** conn_type raw: the interface frames come in on (one of the server's --raw-interface); default its first. */
  iface?: string;
  /** conn_type raw: the interface outputs go out on; default iface. */
  out_iface?: string;
}

/*
 * The numbers below marked "ABI" are common/ataru_abi.h's. They are copied,
 * not read from the addon, because definitions are parsed and checked
 * without it (ataru check/convert); test/app/abi-numbers.test.ts keeps them equal.
 */

/** Defaults of the extensions (and of fields a JSON definition may omit). */
export const DEFAULTS = {
  conn_type: 'tcp' as ConnType,
  conn_port: 0,
  server_ip: '',
  result_ip: '',
  result_port: 0,
  pktcnt: 0,
  timeout_ms: 1000,
  instances: 0,
  min_instances: 0,
  max_instances: 0,
  idle_release_ms: 30_000,
  vcpus: 1,
  reply: 'frames' as ReplyMode,
  state: 'reset' as StateMode,
  shm_size: 2 * 1024 * 1024, // ABI: ATARU_SHM_DEFAULT
  queue_limit: 1024,
};

/** Limits (of the original where it had one). */
export const LIMITS = {
  maxNodes: 255,
  maxNodesBinary: 127, // 2n+1+edges <= 256 in the wire form's dag array
  dagArrayLength: 256,
  maxEdges: 4096, // ABI: ATARU_MAX_EDGES
  maxVcpus: 8, // ABI: ATARU_MAX_VCPUS
  maxShmSize: 256 * 1024 * 1024, // ABI: ATARU_SHM_MAX
  nameBytes: 128,
  /** Index range of exec[i] in the template and wire form. */
  execEntries: 256,
  /** shm_size is a whole number of pages. */
  pageSize: 4096, // ABI: ATARU_PAGE_SIZE
  maxTimeoutMs: 3_600_000,
  maxInstances: 1024,
  maxQueueLimit: 1_000_000,
  maxPktcnt: 2 ** 31 - 1,
};
