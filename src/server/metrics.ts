/**
 * Prometheus metrics (GET /metrics). One Registry per server, so servers
 * started in one process (tests, benchmarks) don't share counters. The hot
 * path uses children bound once per app (forApp), so a request costs a few
 * array updates, not label hashing.
 */
import { Counter, Gauge, Histogram, Registry, exponentialBuckets } from 'prom-client';
import type { AppStats, RunResult } from '../runtime/types.js';

export type RequestSource = 'data' | 'http';

export interface AppMetrics {
  ok(result: RunResult, source: RequestSource): void;
  error(code: string, source: RequestSource): void;
  truncated(): void;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'app' | 'source'>;
  private readonly errors: Counter<'app' | 'code'>;
  private readonly latency: Histogram<'app'>;
  private readonly nodeLatency: Histogram<'app' | 'node'>;
  private readonly truncatedReqs: Counter<'app'>;
  private readonly coldStarts: Counter<'app'>;
  private readonly coldStartSeconds: Histogram<'app'>;

  /** statsOf: the live apps' stats, read when /metrics is scraped. */
  constructor(statsOf: () => AppStats[]) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'ataru_requests_total', help: 'Requests served, by app and source', labelNames: ['app', 'source'], registers });
    this.errors = new Counter({ name: 'ataru_request_errors_total', help: 'Failed requests, by app and error code', labelNames: ['app', 'code'], registers });
    // 1 µs .. ~1 s: the interesting range is tens of µs.
    const buckets = exponentialBuckets(1e-6, 2.5, 16);
    this.latency = new Histogram({ name: 'ataru_request_duration_seconds', help: 'Request time in the runtime (queue + run)', labelNames: ['app'], buckets, registers });
    this.nodeLatency = new Histogram({ name: 'ataru_node_duration_seconds', help: 'In-VM time per DAG node', labelNames: ['app', 'node'], buckets, registers });
    this.truncatedReqs = new Counter({ name: 'ataru_truncated_requests_total', help: 'Partial requests dropped when a client disconnected mid-request', labelNames: ['app'], registers });
    this.coldStarts = new Counter({ name: 'ataru_cold_starts_total', help: 'App loads (deploys, redeploys, restarts)', labelNames: ['app'], registers });
    this.coldStartSeconds = new Histogram({ name: 'ataru_cold_start_seconds', help: 'Deploy to first instance ready', labelNames: ['app'], buckets: exponentialBuckets(1e-4, 2, 16), registers });
    new Gauge({
      name: 'ataru_instances',
      help: 'Instance pool per app: total, busy; and queued requests',
      labelNames: ['app', 'state'],
      registers,
      collect() {
        this.reset();
        for (const s of statsOf()) {
          this.set({ app: s.name, state: 'total' }, s.instances.total);
          this.set({ app: s.name, state: 'busy' }, s.instances.busy);
          this.set({ app: s.name, state: 'queued' }, s.instances.queued);
        }
      },
    });
  }

  coldStart(app: string, us: number): void {
    this.coldStarts.labels(app).inc();
    this.coldStartSeconds.labels(app).observe(us / 1e6);
  }

  forApp(app: string, numNodes: number): AppMetrics {
    const data = this.requests.labels(app, 'data');
    const http = this.requests.labels(app, 'http');
    const latency = this.latency.labels(app);
    const nodes = Array.from({ length: numNodes }, (_, i) => this.nodeLatency.labels(app, String(i)));
    const errors = this.errors;
    const truncated = this.truncatedReqs.labels(app);
    return {
      ok(r, source) {
        (source === 'data' ? data : http).inc();
        latency.observe((r.queueNs + r.runNs) / 1e9);
        const ns = r.nodeNs;
        for (let i = 0; i < nodes.length && i < ns.length; i++) nodes[i]!.observe(ns[i]! / 1e9);
      },
      error(code, source) {
        (source === 'data' ? data : http).inc();
        errors.labels(app, code).inc();
      },
      truncated() {
        truncated.inc();
      },
    };
  }
}
