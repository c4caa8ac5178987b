/**
 * What a cluster node's registry holds for each app: the local pool of VMs
 * (absent when this node cannot or may not run the app) behind a handle that
 * sends a request to the cluster instead when the forward mode says so:
 *
 *   absent     only when there is no local pool (the default)
 *   saturated  also when every local instance is busy
 *   never      never (no local pool: the request fails with CLOSED)
 *
 * The data port and HTTP invoke call run() as on a single machine, so both
 * forward the same way. Requests arriving through NATS run on `local` only,
 * never forwarded again (no loops).
 */
import type { AppDefinition } from '../app/model.js';
import type { ClusterConfig } from '../config.js';
import { AtaruError } from '../errors.js';
import type { AppHandle, AppStats, RunOptions, RunResult, Summary } from '../runtime/types.js';

export type Forward = (def: AppDefinition, input: Buffer) => Promise<RunResult>;

const NONE: Summary = { count: 0, min: 0, mean: 0, max: 0, std: 0, skewness: 0, kurtosis: 0, total: 0 };

export class ClusterHandle implements AppHandle {
  constructor(
    readonly definition: AppDefinition,
    readonly local: AppHandle | undefined,
    private readonly forward: Forward,
    private readonly mode: ClusterConfig['forward'],
  ) {}

  run(input: Buffer, opts?: RunOptions): Promise<RunResult> {
    const local = this.local;
    if (local && !(this.mode === 'saturated' && local.saturated?.())) return local.run(input, opts);
    if (!local && this.mode === 'never') {
      return Promise.reject(new AtaruError('CLOSED', `app ${this.definition.name} has no instances on this node and forwarding is off (cluster.forward: never)`));
    }
    return this.forward(this.definition, input);
  }

  saturated(): boolean {
    return this.local?.saturated?.() ?? true;
  }

  stats(): AppStats {
    if (this.local) return this.local.stats();
    const d = this.definition;
    return {
      name: d.name,
      coldStartUs: 0,
      instanceColdStartUs: [],
      requests: 0,
      errors: {},
      dag: NONE,
      run: NONE,
      nodes: d.nodes.map(() => NONE),
      memory: [],
      instances: { total: 0, busy: 0, queued: 0, replaced: 0, min: 0, max: 0, grown: 0, released: 0 },
    };
  }

  close(): Promise<void> {
    return this.local?.close() ?? Promise.resolve();
  }
}

/** The local pool behind a registry handle, if any. */
export function localOf(h: AppHandle): AppHandle | undefined {
  return h instanceof ClusterHandle ? h.local : h;
}
