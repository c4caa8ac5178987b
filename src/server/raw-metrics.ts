/**
 * /metrics series of raw apps (src/server/raw-port.ts), read from the
 * native counters when scraped: packets received (the filter passed them),
 * filtered (the app gave no output), transmitted and dropped (with the kind),
 * and the pktcnt windows finished.
 */
import { Counter, type Registry } from 'prom-client';
import type { PacketCounters } from './raw-native.js';

export function registerRawMetrics(registry: Registry, rawApps: () => { app: string; counters: PacketCounters }[]): void {
  const registers = [registry];
  new Counter({
    name: 'ataru_raw_packets_total',
    help: 'Raw apps: frames received (passed the filter), filtered (empty output), transmitted, dropped',
    labelNames: ['app', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const { app, counters: c } of rawApps()) {
        this.inc({ app, outcome: 'received' }, c.received);
        this.inc({ app, outcome: 'filtered' }, c.filtered);
        this.inc({ app, outcome: 'transmitted' }, c.transmitted);
        this.inc({ app, outcome: 'dropped' }, c.dropped);
      }
    },
  });
  new Counter({
    name: 'ataru_raw_packet_errors_total',
    help: 'Raw apps: dropped frames by kind (a request status, TOO_LONG, TRANSMIT)',
    labelNames: ['app', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const { app, counters: c } of rawApps()) for (const [kind, n] of Object.entries(c.errors)) this.inc({ app, kind }, n);
    },
  });
  new Counter({
    name: 'ataru_raw_stats_windows_total',
    help: 'Raw apps: pktcnt windows finished (statistics lines produced)',
    labelNames: ['app'],
    registers,
    collect() {
      this.reset();
      for (const { app, counters: c } of rawApps()) this.inc({ app }, c.windows);
    },
  });
}
