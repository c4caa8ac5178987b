/**
 * The original's statistics line (docs/original-system.md, "Statistics line"), written after pktcnt
 * requests on a data connection: 20 + 7 × num_nodes space-separated fields,
 * times in µs, then '\n'.
 */
import type { Summary } from '../runtime/types.js';

export interface StatsLineInput {
  bootUs: number;
  totalUs: number;
  tscTicks: number;
  pktcnt: number;
  lastRequestBytes: number;
  privateKb: number;
  pssKb: number;
  numNodes: number;
  firstRequestUs: number;
  firstDagUs: number;
  /** DAG time over the warm requests (all but the first). */
  warmDag: Summary;
  totalDagUs: number;
  meanDagUs: number;
  networkReadUs: number;
  /** Per node, over the warm requests. */
  warmNodes: Summary[];
}

function seven(s: Summary): number[] {
  return [s.min, s.mean, s.max, s.std, s.skewness, s.kurtosis, s.total];
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '0';
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

export function formatStatsLine(s: StatsLineInput): string {
  const fields = [
    s.bootUs,
    s.totalUs,
    s.tscTicks,
    s.pktcnt,
    s.lastRequestBytes,
    s.privateKb,
    s.pssKb,
    s.numNodes,
    s.firstRequestUs,
    s.firstDagUs,
    ...seven(s.warmDag),
    s.totalDagUs,
    s.meanDagUs,
    s.networkReadUs,
    ...s.warmNodes.flatMap(seven),
  ];
  return fields.map(fmt).join(' ') + '\n';
}
