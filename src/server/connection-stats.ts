/**
 * Per-connection figures for the pktcnt statistics line. Only connections of
 * apps with pktcnt > 0 pay for this. The original measured per VM; here a
 * connection's requests may be served by any instance of the pool, so
 * memory and boot time are those of the instance that served the first one.
 */
import { native } from '../runtime/native.js';
import { StreamingStats as Moments } from '../runtime/stats.js';
import type { RunResult } from '../runtime/types.js';
import type { AppVersion } from './live-app.js';
import { formatStatsLine } from './stats-line.js';

export class ConnectionStats {
  /** Time the first request had fully arrived (hrtime ns). */
  private startNs = 0n;
  private first?: RunResult;
  private readonly warmDag = new Moments();
  private readonly warmNodes: Moments[];
  private dagNsTotal = 0;
  private served = 0;
  /** Time from a request's first byte arriving to its last, summed. */
  networkNs = 0;

  constructor(numNodes: number) {
    this.warmNodes = Array.from({ length: numNodes }, () => new Moments());
  }

  arrived(nowNs: bigint): void {
    if (this.startNs === 0n) this.startNs = nowNs;
  }

  /** index: the request's position on the connection (0 = the cold one). */
  record(index: number, r: RunResult): void {
    this.served++;
    this.dagNsTotal += r.dagNs;
    if (index === 0) {
      this.first = r;
      return;
    }
    this.warmDag.add(r.dagNs / 1000);
    for (let i = 0; i < this.warmNodes.length; i++) this.warmNodes[i]!.add((r.nodeNs[i] ?? 0) / 1000);
  }

  line(v: AppVersion, pktcnt: number): string {
    const totalNs = Number(process.hrtime.bigint() - this.startNs);
    const st = v.handle.stats();
    const inst = this.first?.instance ?? 0;
    const mem = st.memory[inst] ?? { privateBytes: 0, pssBytes: 0 };
    return formatStatsLine({
      bootUs: st.instanceColdStartUs[inst] ?? st.coldStartUs,
      totalUs: totalNs / 1000,
      tscTicks: Math.round(totalNs * tscPerNs()),
      pktcnt,
      lastRequestBytes: v.def.msg_len,
      privateKb: Math.round(mem.privateBytes / 1024),
      pssKb: Math.round(mem.pssBytes / 1024),
      numNodes: v.def.nodes.length,
      firstRequestUs: (this.first?.runNs ?? 0) / 1000,
      firstDagUs: (this.first?.dagNs ?? 0) / 1000,
      warmDag: this.warmDag.summary(),
      totalDagUs: this.dagNsTotal / 1000,
      meanDagUs: this.served ? this.dagNsTotal / this.served / 1000 : 0,
      networkReadUs: this.networkNs / 1000,
      warmNodes: this.warmNodes.map((m) => m.summary()),
    });
  }
}

/** TSC ticks per ns for field 3: the core's own TSC rate (KVM's, once a VM exists). */
function tscPerNs(): number {
  return native().tscHz() / 1e9;
}
