/**
 * A deployed app as the servers see it: a stable object whose `current`
 * version is swapped atomically on redeploy. Connections read `current` per
 * request, so a redeploy takes effect at the next request while requests
 * already handed to the old version finish there.
 */
import type { AppDefinition } from '../app/model.js';
import type { AppHandle } from '../runtime/types.js';
import type { AppMetrics } from './metrics.js';
import type { LogRing } from './log-ring.js';
import type { Reservation } from './reservations.js';

export interface AppVersion {
  readonly def: AppDefinition;
  readonly handle: AppHandle;
  readonly metrics: AppMetrics;
  /** functionKey(ref) -> blob sha256. */
  readonly blobs: Record<string, string>;
  readonly result?: { ip: string; port: number };
  /** This version's folder of its files (Store.linkVersion), deleted once it is closed. */
  readonly folder: string;
  /** Its share of the server-wide caps (reservations.ts), freed once it is closed. */
  readonly reservation: Reservation;
}

export interface LiveApp {
  readonly name: string;
  current: AppVersion;
  /** Function log lines and failed requests, across versions (absent in bare test rigs). */
  readonly logs?: LogRing;
}
