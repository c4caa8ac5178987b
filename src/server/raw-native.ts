/**
 * The addon's raw-packet calls (native/addon_packet.cc over
 * native/ataru_packet.h), typed. Kept apart from src/runtime/native.ts: only
 * the raw port uses them.
 */
import { native, type NativeHandle } from '../runtime/native.js';
import type { Summary } from '../runtime/types.js';

/** The core's summary of a window (the count travels beside it). */
export type PacketSummary = Omit<Summary, 'count'>;

/** One finished pktcnt window (times in ns unless named µs by the summaries). */
export interface PacketWindow {
  packets: number;
  totalNs: number;
  lastBytes: number;
  numNodes: number;
  firstRunNs: number;
  firstDagNs: number;
  warmDag: PacketSummary;
  dagNsTotal: number;
  recvNs: number;
  warmNodes: PacketSummary[];
}

export interface PacketCounters {
  received: number;
  filtered: number;
  transmitted: number;
  dropped: number;
  /** Dropped packets by kind: a status name (FAULT, TIMEOUT, ...), TOO_LONG or TRANSMIT. */
  errors: Record<string, number>;
  windows: number;
  batches: number;
  dag: PacketSummary & { count: number };
  run: PacketSummary & { count: number };
}

export type PacketEngine = { readonly __packetEngine: unique symbol };

export interface PacketConfig {
  iface: string;
  outIface?: string;
  port: number;
  msgLen: number;
  pktcnt: number;
  numNodes: number;
}

interface PacketAddon {
  packetProbe(iface: string): void;
  packetOpen(cfg: PacketConfig, handles: NativeHandle[], onWindow?: (w: PacketWindow) => void): PacketEngine;
  packetCounters(e: PacketEngine): PacketCounters;
  packetClose(e: PacketEngine): Promise<void>;
}

export function packetAddon(): PacketAddon {
  return native() as unknown as PacketAddon;
}
