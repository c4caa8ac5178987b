/**
 * From per-round measurements to the figures a reader sees: medians over
 * rounds with their p25–p75 spread, and ratios to the floor and to native.
 */
import type { CellResult, CellStatus } from '../measure.js';
import { figure, percentile, type Figure } from '../stats.js';

export interface Row {
  systemId: string;
  label: string;
  workloadId: string;
  status: CellStatus;
  reason?: string;
  p50?: Figure;
  /** Over all requests of all rounds. */
  p99?: number;
  thr1?: Figure;
  thr2?: Figure;
  cold?: Figure;
  memoryBytes?: number;
  perGiB?: number;
  vsFloor?: number;
  vsNative?: number;
  requests: number;
}

export interface WorkloadTable {
  workloadId: string;
  label: string;
  rows: Row[];
}

const GIB = 1024 ** 3;

/** Rows in the order of `order` (system ids); unknown ids last. */
function byOrder(order: readonly string[]) {
  const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
  return (a: Row, b: Row) => rank(a.systemId) - rank(b.systemId);
}

export function summarize(
  results: readonly CellResult[],
  labels: Record<string, string> = {},
  order: readonly string[] = [],
): WorkloadTable[] {
  const rows: Row[] = results.map((r) => {
    const m = figure(r.memory)?.median;
    const mem = m !== undefined && m > 0 ? m : undefined; // growth below the noise: not measurable
    return {
      systemId: r.system.id,
      label: labels[r.system.id] ?? r.system.label,
      workloadId: r.workload.id,
      status: r.status,
      reason: r.reason,
      ...(r.status === 'ok'
        ? {
            p50: figure(r.p50),
            p99: r.all.length >= 2 ? percentile(r.all, 99) : undefined,
            thr1: figure(r.thr1),
            thr2: figure(r.thr2),
            cold: figure(r.cold),
            memoryBytes: mem,
            perGiB: mem && mem > 0 ? Math.floor(GIB / mem) : undefined,
          }
        : {}),
      requests: r.requests,
    };
  });
  const floor = rows.find((r) => r.systemId === 'floor' && r.status === 'ok')?.p50?.median;
  const tables: WorkloadTable[] = [];
  for (const r of results) {
    if (!tables.some((t) => t.workloadId === r.workload.id)) {
      tables.push({ workloadId: r.workload.id, label: r.workload.label, rows: [] });
    }
  }
  for (const t of tables) {
    t.rows = rows.filter((r) => r.workloadId === t.workloadId);
    // The floor is workload-independent: shown in every table.
    const floorRow = rows.find((r) => r.systemId === 'floor');
    if (floorRow && !t.rows.includes(floorRow)) t.rows.push({ ...floorRow, workloadId: t.workloadId });
    t.rows.sort(byOrder(order));
    const native = t.rows.find((r) => r.systemId === 'native' && r.status === 'ok')?.p50?.median;
    for (const r of t.rows) {
      const p50 = r.p50?.median;
      if (p50 === undefined) continue;
      if (floor) r.vsFloor = p50 / floor;
      if (native) r.vsNative = p50 / native;
    }
  }
  return tables;
}
