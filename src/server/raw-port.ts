/**
 * A raw app's packet path (conn_type raw): its own instances, an AF_PACKET
 * socket on an allowed interface filtered for conn_port, and the native
 * engine that runs every frame and transmits the outputs
 * (native/packet_engine.c). Nothing here runs per packet: JavaScript opens
 * and closes the path, reads its counters, and turns each finished pktcnt
 * window into the statistics line sent to result_ip:result_port.
 *
 * A RawPort stands where a TCP app has its DataPort (port, connections,
 * close), so the registry and the APIs treat both alike.
 */
import type { AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import { native, type NativeHandle } from '../runtime/native.js';
import { buildSpec } from '../runtime/spec.js';
import { obtainTemplate } from '../runtime/template-store.js';
import type { LoadOptions } from '../runtime/types.js';
import { packetAddon, type PacketCounters, type PacketEngine, type PacketWindow } from './raw-native.js';
import { rawInstancesOf } from './reservations.js';
import { sendResultLine } from './result-target.js';
import { formatStatsLine } from './stats-line.js';


/** The interfaces a raw definition uses, checked against the server's allowed list; throws a clear error. */
export function rawInterfaces(def: AppDefinition, allowed: string[]): { iface: string; outIface?: string } {
  if (def.conn_type !== 'raw') throw new AtaruError('INTERNAL', 'rawInterfaces: not a raw app');
  if (allowed.length === 0) {
    throw new AtaruError('BAD_DEFINITION', 'conn_type raw needs an interface: start the server with --raw-interface IFACE (config rawInterface)', { field: 'conn_type' });
  }
  const iface = def.iface ?? allowed[0]!;
  if (!allowed.includes(iface)) {
    throw new AtaruError('FORBIDDEN', `iface "${iface}" is not one of this server's raw interfaces (${allowed.join(', ')}; --raw-interface)`, { field: 'iface' });
  }
  if (def.out_iface !== undefined && !allowed.includes(def.out_iface)) {
    throw new AtaruError('FORBIDDEN', `out_iface "${def.out_iface}" is not one of this server's raw interfaces (${allowed.join(', ')}; --raw-interface)`, { field: 'out_iface' });
  }
  if (def.conn_port === 0) {
    throw new AtaruError('BAD_DEFINITION', 'a raw app needs conn_port: the destination port its filter takes (1..65535)', { field: 'conn_port' });
  }
  return { iface, ...(def.out_iface !== undefined ? { outIface: def.out_iface } : {}) };
}

export interface RawPortOptions {
  iface: string;
  outIface?: string;
  result?: { ip: string; port: number };
  log: Logger;
}

export class RawPort {
  /** A raw app has no TCP connections. */
  readonly connections = 0;
  private closed?: Promise<void>;
  private coldStartUs = 0;
  /** The running packet path; undefined before start() and after stop(). */
  private engine?: PacketEngine;
  /** The counters when the engine last stopped. */
  private lastCounters?: PacketCounters;

  private constructor(
    private readonly def: AppDefinition,
    private readonly handles: NativeHandle[],
    readonly iface: string,
    readonly outIface: string,
    private readonly opts: RawPortOptions,
  ) {}

  /** The destination port its filter takes (conn_port). */
  get port(): number {
    return this.def.conn_port;
  }

  /** prepare() then start(): the packet path running. */
  static async open(def: AppDefinition, load: LoadOptions, opts: RawPortOptions): Promise<RawPort> {
    const port = await RawPort.prepare(def, load, opts);
    try {
      port.start();
    } catch (e) {
      await port.close();
      throw e;
    }
    return port;
  }

  /**
   * The privilege and interface checks, and the instances, without taking
   * any frame yet: a redeploy builds the new version's before it stops the
   * old one's packet path (two sockets on one port would both get every frame).
   */
  static async prepare(def: AppDefinition, load: LoadOptions, opts: RawPortOptions): Promise<RawPort> {
    probeRawAccess(def.name, opts.iface);
    if (opts.outIface !== undefined && opts.outIface !== opts.iface) probeRawAccess(def.name, opts.outIface);
    const resolved = buildSpec(def, load);
    // Initialised once, as the pool's: the packet path's instances start from
    // the same template (ataru_init's memory), copy-on-write.
    const { template } = await obtainTemplate(resolved, resolved.spec, def.name, load.templateStore);
    const spec = { ...resolved.spec, template };
    const made = await Promise.allSettled(Array.from({ length: rawInstancesOf(def) }, () => native().createInstance(spec)));
    native().releaseTemplate(template); // the instances hold their own references
    const handles = made.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(handles.map((h) => native().destroy(h)));
      throw new AtaruError('INTERNAL', `raw app "${def.name}": could not create its packet-path instance: ${(failed.reason as Error).message}`);
    }
    const port = new RawPort(def, handles, opts.iface, opts.outIface ?? opts.iface, opts);
    port.coldStartUs = Math.max(...handles.map((h) => native().coldStartNs(h) / 1000));
    return port;
  }

  /** Opens the sockets and starts the packet thread (counting from 0). */
  start(): void {
    if (this.closed) throw new AtaruError('INTERNAL', `raw app "${this.def.name}": its packet path is closed`);
    if (this.engine) return;
    const { def, opts } = this;
    try {
      this.engine = packetAddon().packetOpen(
        { iface: opts.iface, outIface: opts.outIface, port: def.conn_port, msgLen: def.msg_len, pktcnt: def.pktcnt, numNodes: def.nodes.length },
        this.handles,
        (w) => this.window(w),
      );
    } catch (e) {
      throw rawOpenError(def, opts.iface, e as Error & { code?: string });
    }
  }

  /** Stops the packet thread after its batch and closes the sockets; the instances stay (start() again). */
  async stop(): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    this.lastCounters = packetAddon().packetCounters(engine);
    this.engine = undefined;
    await packetAddon().packetClose(engine);
  }

  counters(): PacketCounters | undefined {
    if (this.closed) return undefined;
    return this.engine ? packetAddon().packetCounters(this.engine) : this.lastCounters;
  }

  /** Stops the packet thread, closes the sockets, then frees the instances. */
  close(_drain?: boolean): Promise<void> {
    this.closed ??= (async () => {
      await this.stop();
      await Promise.all(this.handles.map((h) => native().destroy(h)));
    })();
    return this.closed;
  }

  /** A finished pktcnt window: the original's statistics line, to the result target. */
  private window(w: PacketWindow): void {
    if (!this.opts.result || this.closed) return;
    const mem = this.handles.map((h) => native().memory(h));
    const line = formatStatsLine({
      bootUs: this.coldStartUs,
      totalUs: w.totalNs / 1000,
      tscTicks: Math.round((w.totalNs * native().tscHz()) / 1e9),
      pktcnt: w.packets,
      lastRequestBytes: w.lastBytes,
      privateKb: Math.round(mem.reduce((a, m) => a + m.privateBytes, 0) / 1024),
      pssKb: Math.round(mem.reduce((a, m) => a + m.pssBytes, 0) / 1024),
      numNodes: w.numNodes,
      firstRequestUs: w.firstRunNs / 1000,
      firstDagUs: w.firstDagNs / 1000,
      warmDag: { count: w.packets - 1, ...w.warmDag },
      totalDagUs: w.dagNsTotal / 1000,
      meanDagUs: w.packets ? w.dagNsTotal / w.packets / 1000 : 0,
      networkReadUs: w.recvNs / 1000,
      warmNodes: w.warmNodes.map((s) => ({ count: w.packets - 1, ...s })),
    });
    sendResultLine(this.opts.result, line, this.opts.log);
  }
}

/** Throws the clear error (FORBIDDEN: no CAP_NET_RAW; BAD_DEFINITION: no such interface) before any instance is built. */
export function probeRawAccess(app: string, iface: string): void {
  try {
    packetAddon().packetProbe(iface);
  } catch (e) {
    throw rawOpenError({ name: app }, iface, e as Error & { code?: string });
  }
}

function rawOpenError(def: Pick<AppDefinition, 'name'>, iface: string, e: Error & { code?: string }): AtaruError {
  switch (e.code) {
    case 'NO_PRIVILEGE':
      return new AtaruError(
        'FORBIDDEN',
        `raw app "${def.name}" needs root or CAP_NET_RAW to open an AF_PACKET socket on "${iface}" (${e.message}); run ataru serve as root or give node the capability (setcap cap_net_raw+ep "$(command -v node)")`,
        { field: 'conn_type' },
      );
    case 'NO_INTERFACE':
      return new AtaruError('BAD_DEFINITION', `raw app "${def.name}": no network interface "${iface}" on this machine (${e.message})`, { field: 'iface' });
    default:
      return new AtaruError('INTERNAL', `raw app "${def.name}": cannot open its packet socket: ${e.message}`);
  }
}
