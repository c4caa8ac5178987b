/**
 * Server-wide resource caps (limits.maxGuestMemoryBytes, maxInstances,
 * maxVcpuThreads): what every loaded app version reserves, checked before a
 * deploy creates any VM. A version holds its reservation from the deploy
 * until it is closed, so during a redeploy the old and the new version are
 * both counted (they briefly coexist). Queued request bytes are capped
 * separately (ByteBudget, shared by the apps' queues).
 */
import type { AppDefinition } from '../app/model.js';
import type { ServerLimits } from '../config.js';
import { AtaruError } from '../errors.js';
import { App } from '../runtime/app.js';

/**
 * Guest memory of an instance beyond shm_size and its function images: the
 * runtime's system, mailbox and config regions (640 KiB), page tables and
 * the runtime image (docs/server.md "Resource limits"). Each vCPU adds its
 * stack (STACK_BYTES).
 */
export const INSTANCE_OVERHEAD_BYTES = 1024 * 1024;
/** ATARU_STACK_DEFAULT: the stack of each vCPU (the server never sets another). */
export const STACK_BYTES = 256 * 1024;

export interface Demand {
  instances: number;
  vcpuThreads: number;
  memoryBytes: number;
}

/** Instances of a raw app's packet path (src/server/raw-port.ts): the definition's pool size up to 64, or 1. */
export function rawInstancesOf(def: AppDefinition): number {
  return def.instances > 0 ? Math.min(def.instances, 64) : 1;
}

/** What one version of `def` reserves; imageBytes: the size of its function files. A raw app's packet-path instances come on top of its pool. */
export function demandOf(def: AppDefinition, imageBytes: number): Demand {
  // room to grow to max_instances; a raw app's packet path on top
  const instances = App.poolBoundsOf(def)[1] + (def.conn_type === 'raw' ? rawInstancesOf(def) : 0);
  const perInstance = def.shm_size + INSTANCE_OVERHEAD_BYTES + def.vcpus * STACK_BYTES + imageBytes;
  return { instances, vcpuThreads: instances * def.vcpus, memoryBytes: instances * perInstance };
}

export interface Reservation extends Demand {
  readonly app: string;
}

interface Resource {
  key: keyof Demand;
  /** The limit's config key (named in refusals). */
  limit: 'maxGuestMemoryBytes' | 'maxInstances' | 'maxVcpuThreads';
  what: string;
  unit: string;
}

const RESOURCES: readonly Resource[] = [
  { key: 'memoryBytes', limit: 'maxGuestMemoryBytes', what: 'guest memory', unit: ' bytes' },
  { key: 'instances', limit: 'maxInstances', what: 'instances', unit: '' },
  { key: 'vcpuThreads', limit: 'maxVcpuThreads', what: 'vCPU threads', unit: '' },
];

export class ResourceLedger {
  private readonly held = new Set<Reservation>();

  constructor(private readonly limits: ServerLimits) {}

  /** The sum of every reservation held. */
  used(): Demand {
    const u: Demand = { instances: 0, vcpuThreads: 0, memoryBytes: 0 };
    for (const r of this.held) {
      u.instances += r.instances;
      u.vcpuThreads += r.vcpuThreads;
      u.memoryBytes += r.memoryBytes;
    }
    return u;
  }

  /** Reserves `demand` for `app`, or throws BUSY naming the first limit it would pass. */
  reserve(app: string, demand: Demand): Reservation {
    const used = this.used();
    for (const r of RESOURCES) {
      const limit = this.limits[r.limit];
      const left = Math.max(0, limit - used[r.key]);
      if (demand[r.key] <= left) continue;
      const same = [...this.held].filter((h) => h.app === app).reduce((n, h) => n + h[r.key], 0);
      throw new AtaruError(
        'BUSY',
        `app "${app}" needs ${demand[r.key]}${r.unit} of ${r.what} but only ${left}${r.unit} of the server's ` +
          `${r.limit} limit of ${limit}${r.unit} are left` +
          (same > 0 ? ` (${same}${r.unit} of the used amount belong to the running version of "${app}", freed only once the new version has replaced it)` : '') +
          `; lower instances, vcpus or shm_size, or remove an app`,
        { field: r.key === 'memoryBytes' ? 'shm_size' : r.key === 'instances' ? 'instances' : 'vcpus' },
      );
    }
    const res: Reservation = { app, ...demand };
    this.held.add(res);
    return res;
  }

  release(res: Reservation): void {
    this.held.delete(res);
  }
}
