/**
 * What every peer system provides to the harness: a Cell is one system
 * prepared for one workload.
 */
import type { Answer } from '../answer.js';
import type { BuildResult, Target } from '../build.js';
import type { Workload } from '../workloads.js';

export interface LatencySample {
  /** Per-request latency, µs. */
  us: number[];
  /** Wall time of the whole sequential loop, ms (for throughput at c=1). */
  elapsedMs: number;
  /** `us` holds medians measured elsewhere (the floor): no p99, no throughput. */
  mediansOnly?: boolean;
}

export interface Cell {
  /** One request's answer (checked before anything is measured). */
  answer(): Promise<Answer>;
  /** Sequential requests until maxCalls or maxMs. */
  latency(maxCalls: number, maxMs: number): Promise<LatencySample>;
  /** Requests per second with `concurrency` requests in flight, for ~ms. */
  throughput?(concurrency: number, ms: number): Promise<number>;
  /** Cold start (nothing prepared -> first answer), µs. */
  cold?(): Promise<number>;
  /** Private memory of one instance, bytes. */
  memory?(): Promise<number>;
  close(): Promise<void>;
}

export interface PeerSystem {
  id: string;
  label: string;
  /** How it is measured (printed under the table). */
  note: string;
  /** Build targets it needs. */
  targets: Target[];
  /** Why it cannot run on this machine or workload, or undefined. */
  unavailable(w: Workload, build: BuildResult): Promise<string | undefined> | string | undefined;
  open(w: Workload, build: BuildResult): Promise<Cell>;
}
