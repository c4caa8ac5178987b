/**
 * Prometheus metrics (GET /metrics). One Registry per server, so servers
 * started in one process (tests, benchmarks) don't share series.
 *
 * The hot path only bumps plain per-app fields (forApp); prom-client reads
 * them when /metrics is scraped (collect()), and latencies go to
 * FastHistogram. That keeps metrics under a microsecond per request. Every
 * histogram is a FastHistogram, the rare cold starts too: one implementation.
 * Series are per app name and survive redeploys; removing an app removes
 * its series (removeApp), so /metrics does not grow with every app ever seen.
 */
import { Counter, Gauge, Registry, exponentialBuckets } from 'prom-client';
import type { AppStats, RunResult } from '../runtime/types.js';
import { FastHistogram, type Series } from './histogram.js';

/** nats: requests this node ran for the cluster (src/cluster/invoke-server.ts). */
export type RequestSource = 'data' | 'http' | 'nats';

export interface AppMetrics {
  ok(result: RunResult, source: RequestSource): void;
  /** node: the DAG node the error is located at, when known (counted per node too). */
  error(code: string, source: RequestSource, node?: number): void;
  truncated(): void;
}

/** Requests whose latency `ataru stats` takes p50/p99 over (the latest ones). */
export const RECENT_REQUESTS = 4096;
/** Runs per node the dashboard's node p50/p99 and histograms are taken over (smaller: an app may have many nodes). */
export const RECENT_NODE_RUNS = 1024;

/** Buckets of the request and node histograms, seconds: 1 µs .. ~1 s (the interesting range is tens of µs). */
export const LATENCY_BUCKETS = exponentialBuckets(1e-6, 2.5, 16);

/** A ring of the latest values (µs). */
class Recent {
  readonly values: Float64Array;
  count = 0;
  constructor(size: number) {
    this.values = new Float64Array(size);
  }
  push(v: number): void {
    this.values[this.count++ % this.values.length] = v;
  }
  /** The values held, sorted. */
  sorted(): Float64Array {
    return this.values.slice(0, Math.min(this.count, this.values.length)).sort();
  }
}

/** The p-th percentile of sorted values, null when there are none. */
function percentile(sorted: Float64Array, p: number): number | null {
  const n = sorted.length;
  return n ? sorted[Math.min(n - 1, Math.floor((p / 100) * n))]! : null;
}

export interface NodeFigures {
  /** Successful runs since the series started (the /metrics node histogram's count). */
  runs: number;
  /** Failed requests located at this node. */
  errors: number;
  /** Over the node's latest RECENT_NODE_RUNS runs. */
  p50Us: number | null;
  p99Us: number | null;
  /** Those runs counted in LATENCY_BUCKETS (one more count for above the last bound). */
  hist: number[];
}

class AppCounters implements AppMetrics {
  /** Latency (µs, queue + run) of the latest RECENT_REQUESTS successful requests, a ring. */
  readonly recent = new Float64Array(RECENT_REQUESTS);
  recentCount = 0;
  data = 0;
  http = 0;
  nats = 0;
  truncatedCount = 0;
  readonly errors = new Map<string, number>();

  /** Per node; grow when a redeploy adds nodes. */
  readonly nodes: Series[] = [];
  readonly nodeRecent: Recent[] = [];
  readonly nodeErrors: number[] = [];

  constructor(private readonly latency: Series) {}

  ok(r: RunResult, source: RequestSource): void {
    this[source]++;
    this.latency.observe((r.queueNs + r.runNs) / 1e9);
    this.recent[this.recentCount++ % RECENT_REQUESTS] = (r.queueNs + r.runNs) / 1000;
    const ns = r.nodeNs;
    const n = Math.min(this.nodes.length, ns.length);
    for (let i = 0; i < n; i++) {
      this.nodes[i]!.observe(ns[i]! / 1e9);
      this.nodeRecent[i]!.push(ns[i]! / 1000);
    }
  }

  error(code: string, source: RequestSource, node?: number): void {
    this[source]++;
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    if (node !== undefined && node >= 0 && node < this.nodeErrors.length) this.nodeErrors[node]!++;
  }

  truncated(): void {
    this.truncatedCount++;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly apps = new Map<string, AppCounters>();
  private readonly latency: FastHistogram;
  private readonly nodeLatency: FastHistogram;
  private readonly coldStarts: Counter<'app'>;
  private readonly coldStartSeconds: FastHistogram;

  /**
   * statsOf: the live apps' stats, read when /metrics is scraped;
   * resourcesOf: the server-wide caps' use and limits (AppRegistry.resources).
   */
  constructor(
    statsOf: () => AppStats[],
    resourcesOf: () => { resource: string; used: number; limit: number }[] = () => [],
  ) {
    const registers = [this.registry];
    const apps = this.apps;
    const buckets = LATENCY_BUCKETS;
    this.latency = new FastHistogram('ataru_request_duration_seconds', 'Request time in the runtime (queue + run)', buckets, this.registry);
    this.nodeLatency = new FastHistogram('ataru_node_duration_seconds', 'In-VM time per DAG node', buckets, this.registry);
    new Counter({
      name: 'ataru_requests_total',
      help: 'Requests served (ok or failed), by app and source',
      labelNames: ['app', 'source'],
      registers,
      collect() {
        this.reset();
        for (const [app, c] of apps) {
          this.inc({ app, source: 'data' }, c.data);
          this.inc({ app, source: 'http' }, c.http);
          if (c.nats) this.inc({ app, source: 'nats' }, c.nats);
        }
      },
    });
    new Counter({
      name: 'ataru_request_errors_total',
      help: 'Failed requests, by app and error code',
      labelNames: ['app', 'code'],
      registers,
      collect() {
        this.reset();
        for (const [app, c] of apps) for (const [code, n] of c.errors) this.inc({ app, code }, n);
      },
    });
    new Counter({
      name: 'ataru_truncated_requests_total',
      help: 'Partial requests dropped when a client disconnected mid-request',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const [app, c] of apps) this.inc({ app }, c.truncatedCount);
      },
    });
    this.coldStarts = new Counter({ name: 'ataru_cold_starts_total', help: 'App loads (deploys, redeploys, restarts)', labelNames: ['app'], registers });
    this.coldStartSeconds = new FastHistogram('ataru_cold_start_seconds', 'Deploy to first instance ready', exponentialBuckets(1e-4, 2, 16), this.registry);
    new Gauge({
      name: 'ataru_instances',
      help: 'Instance pool per app: total, busy, the pool bounds min and max; and queued requests',
      labelNames: ['app', 'state'],
      registers,
      collect() {
        this.reset();
        for (const s of statsOf()) {
          this.set({ app: s.name, state: 'total' }, s.instances.total);
          this.set({ app: s.name, state: 'busy' }, s.instances.busy);
          this.set({ app: s.name, state: 'queued' }, s.instances.queued);
          this.set({ app: s.name, state: 'min' }, s.instances.min);
          this.set({ app: s.name, state: 'max' }, s.instances.max);
        }
      },
    });
    // Gauges, not counters: they restart with each loaded version (as replaced).
    new Gauge({
      name: 'ataru_instances_grown',
      help: 'Instances added from the template while requests queued, per loaded app version',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const s of statsOf()) this.set({ app: s.name }, s.instances.grown);
      },
    });
    new Gauge({
      name: 'ataru_instances_released',
      help: 'Idle instances beyond min_instances released, per loaded app version',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const s of statsOf()) this.set({ app: s.name }, s.instances.released);
      },
    });
    new Gauge({
      name: 'ataru_app_template_bytes',
      help: "The version's template: guest memory of each instance (kind=guest) and its non-zero data shared by all (kind=data)",
      labelNames: ['app', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const s of statsOf()) {
          if (!s.template) continue;
          this.set({ app: s.name, kind: 'guest' }, s.template.guestBytes);
          this.set({ app: s.name, kind: 'data' }, s.template.dataBytes);
        }
      },
    });
    new Gauge({
      name: 'ataru_instances_replaced',
      help: 'Instances the core took out of service and the pool rebuilt, per loaded app version',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const s of statsOf()) this.set({ app: s.name }, s.instances.replaced);
      },
    });
    new Gauge({
      name: 'ataru_resource_used',
      help: 'Server-wide use of a capped resource: guest_memory_bytes, instances, vcpu_threads (reserved by loaded app versions), queued_bytes',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        for (const r of resourcesOf()) this.set({ resource: r.resource }, r.used);
      },
    });
    new Gauge({
      name: 'ataru_resource_limit',
      help: 'Server-wide limit of a capped resource (limits.maxGuestMemoryBytes, maxInstances, maxVcpuThreads, maxQueuedBytes)',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        for (const r of resourcesOf()) this.set({ resource: r.resource }, r.limit);
      },
    });
  }

  /** Forgets every series of a removed app (a later deploy of the name starts at zero). */
  removeApp(app: string): void {
    this.apps.delete(app);
    const ofApp = (l: Record<string, string>) => l.app === app;
    this.latency.removeWhere(ofApp);
    this.nodeLatency.removeWhere(ofApp);
    this.coldStartSeconds.removeWhere(ofApp);
    this.coldStarts.remove({ app });
  }

  coldStart(app: string, us: number): void {
    this.coldStarts.labels(app).inc();
    this.coldStartSeconds.child({ app }).observe(us / 1e6);
  }

  /** p50 and p99 (µs) over the app's latest successful requests; NaN-free: null when there are none. */
  recentLatency(app: string): { requests: number; p50Us: number | null; p99Us: number | null } {
    const c = this.apps.get(app);
    const n = c ? Math.min(c.recentCount, RECENT_REQUESTS) : 0;
    if (!c || n === 0) return { requests: 0, p50Us: null, p99Us: null };
    const sorted = c.recent.slice(0, n).sort();
    return { requests: n, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) };
  }

  /** The app's counters (shared by all its versions). */
  forApp(app: string, numNodes: number): AppMetrics {
    let c = this.apps.get(app);
    if (!c) this.apps.set(app, (c = new AppCounters(this.latency.child({ app }))));
    for (let i = c.nodes.length; i < numNodes; i++) {
      c.nodes.push(this.nodeLatency.child({ app, node: String(i) }));
      c.nodeRecent.push(new Recent(RECENT_NODE_RUNS));
      c.nodeErrors.push(0);
    }
    return c;
  }

  /** Each of the app's first numNodes nodes: runs and errors, and p50/p99 and a histogram of its latest runs (the dashboard). */
  recentNodes(app: string, numNodes: number): NodeFigures[] {
    const c = this.apps.get(app);
    const out: NodeFigures[] = [];
    for (let i = 0; i < numNodes; i++) {
      const hist = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
      const recent = c?.nodeRecent[i];
      if (!c || !recent) {
        out.push({ runs: 0, errors: 0, p50Us: null, p99Us: null, hist });
        continue;
      }
      const sorted = recent.sorted();
      let b = 0;
      for (const v of sorted) {
        while (b < LATENCY_BUCKETS.length && v > LATENCY_BUCKETS[b]! * 1e6) b++;
        hist[b]!++;
      }
      out.push({ runs: c.nodes[i]!.count, errors: c.nodeErrors[i]!, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99), hist });
    }
    return out;
  }
}
