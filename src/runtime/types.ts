/**
 * The TypeScript runtime API: what the servers, the CLI and users call.
 * Implemented in src/runtime/app.ts (pools of native instances) and
 * src/runtime/sandbox.ts (a single function).
 */
import type { AppDefinition, FunctionRef } from '../app/model.js';
import type { ByteBudget } from './byte-budget.js';

/** Summary statistics, times in microseconds (as the original's pktcnt line). */
export interface Summary {
  count: number;
  min: number;
  mean: number;
  max: number;
  std: number;
  skewness: number;
  kurtosis: number;
  total: number;
}

export interface RunResult {
  /** Sink outputs concatenated in node order. */
  output: Buffer;
  /** Each sink's output length, in node order (to split `output`). */
  sinkLengths: number[];
  /** In-VM time of the whole DAG, ns. */
  dagNs: number;
  /** In-VM time per node, ns (index = node). */
  nodeNs: number[];
  /** Host time from hand-off to result, ns. */
  runNs: number;
  /** Time spent waiting for a free instance, ns. */
  queueNs: number;
  /** Index of the pool instance that served it. */
  instance: number;
}

export interface AppStats {
  name: string;
  /** deploy -> first instance ready, µs; and per instance. */
  coldStartUs: number;
  instanceColdStartUs: number[];
  requests: number;
  errors: Record<string, number>; // by error code
  dag: Summary; // in-VM DAG time per request
  run: Summary; // host time per request
  nodes: Summary[]; // per node in-VM time
  memory: { privateBytes: number; pssBytes: number }[]; // per instance
  /** replaced: instances the core took out of service and the pool rebuilt;
   * min/max: the pool's bounds; grown/released: instances added under load
   * and idle ones released since deploy. */
  instances: {
    total: number;
    busy: number;
    queued: number;
    replaced: number;
    min: number;
    max: number;
    grown: number;
    released: number;
  };
  /** The version's template (loaded, linked, initialised once): its
   * memory, the init hooks run and whether it came from the store. */
  template?: { guestBytes: number; dataBytes: number; inits: number; initUs: number; buildUs: number; fromStore: boolean };
}

export interface LoadOptions {
  /** Turns a definition's function reference into an absolute file path. */
  resolve: (ref: FunctionRef) => string;
  /** Function log lines (rate-limited by the runtime). */
  onLog?: (line: { app: string; node: number; requestId: number; message: string }) => void;
  /** Shared cap on the input bytes of queued requests (BUSY beyond it). */
  queueBudget?: ByteBudget;
  /** Largest total sink output of a request (OUTPUT_TOO_LARGE beyond it). */
  maxOutputBytes?: number;
  /** Where templates are stored across restarts (the server's data dir); absent: built per deploy, not kept. */
  templateStore?: import('./template-store.js').TemplateStoreOptions;
  /** Tests only: native test-hook flags set on every instance the pool builds (native().constants.testHooks). */
  _testHooks?: number;
}

export interface RunOptions {
  /** Passed to every function as node_id instead of the DAG index. */
  nodeId?: bigint;
}

/** A deployed app: a pool of VMs, each holding the whole DAG. */
export interface AppHandle {
  readonly definition: AppDefinition;
  /** Runs the DAG once. Rejects with AtaruError (FUNCTION_ERROR, FAULT,
   * TIMEOUT name the node; BUSY when the queue is full; CLOSED). */
  run(input: Buffer, opts?: RunOptions): Promise<RunResult>;
  stats(): AppStats;
  /** True while no instance is free (a new request would queue); cheap, for routing decisions. */
  saturated?(): boolean;
  /** Stops taking requests, lets in-flight ones finish, frees the VMs. */
  close(): Promise<void>;
  /** The fingerprint of its stored template, if it has one (src/runtime/template-store.ts). */
  templateKey?(): string | undefined;
}
