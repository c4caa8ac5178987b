/**
 * The dashboard's two data routes (behind the API token like every route):
 *
 * GET /ui/events — one server-sent-events stream of every app's figures, one
 * `stats` event per tick (default 1 s, `?interval_ms=` 250..10000). Each tick
 * reads the same sources as `ataru stats` and /metrics (the runtime's
 * AppStats, Metrics.recentLatency and, per node, Metrics.recentNodes: the
 * latest runs in the node histogram's buckets): no second bookkeeping, and the rate
 * is bounded by the tick, not by the request rate, so 1,000 requests/s cost
 * one event per second.
 *
 * POST /ui/validate — a definition in any form (template, JSON, base64 of the
 * binary struct) parsed and validated without deploying: its nodes and edges,
 * or every problem with its line / field. Always 200 when the body is well
 * formed; `ok` says whether the definition is valid.
 */
import type { FastifyInstance } from 'fastify';
import { definitionBodyProperties } from './definition-body.js';
import { AtaruError } from '../errors.js';
import { parseForServer } from './definition.js';
import { LATENCY_BUCKETS, type Metrics } from './metrics.js';
import { functionKey, functionRefs } from './functions.js';
import type { AppRegistry, DeployedApp } from './registry.js';

interface EventsQuery {
  interval_ms?: number;
}

/** Bytes a stream may have waiting for a reader that does not read. */
const EVENTS_BUFFER_MAX = 256 * 1024;

/** One app's figures for one tick; `rate` is requests/s since the previous tick. */
export function appFigures(a: DeployedApp, metrics: Metrics) {
  const d = a.current.def;
  const s = a.current.handle.stats();
  const lat = metrics.recentLatency(a.name);
  const recent = metrics.recentNodes(a.name, d.nodes.length);
  return {
    name: a.name,
    port: a.dataPort.port,
    shared: d.shared ? d.shared.name : null,
    nodes: d.nodes.map((n, i) => ({ index: i, id: n.id, function: n.function.name, meanUs: s.nodes[i]?.count ? s.nodes[i]!.mean : null, ...recent[i]! })),
    edges: d.edges.map((e) => ({ from: e.from, to: e.to })),
    instances: { total: s.instances.total, busy: s.instances.busy, free: Math.max(0, s.instances.total - s.instances.busy), queued: s.instances.queued },
    requests: s.requests,
    errors: s.errors,
    p50Us: lat.p50Us,
    p99Us: lat.p99Us,
  };
}

export function registerUiRoutes(app: FastifyInstance, registry: AppRegistry, metrics: Metrics, maxDefinitionBytes: number): void {
  app.get<{ Querystring: EventsQuery }>(
    '/ui/events',
    {
      schema: {
        summary: "The dashboard's live feed: every app's figures as server-sent events, one `stats` event per tick",
        operationId: 'uiEvents',
        querystring: {
          type: 'object',
          properties: { interval_ms: { type: 'integer', minimum: 250, maximum: 10_000, default: 1000, description: 'tick length' } },
          additionalProperties: false,
        },
        produces: ['text/event-stream'],
        response: { 200: { description: 'a stream of `stats` events (and `end` when a reader falls too far behind)', type: 'string' } },
      },
    },
    async (req, reply) => {
      const intervalMs = req.query.interval_ms ?? 1000;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const bucketsUs = LATENCY_BUCKETS.map((b) => Math.round(b * 1e7) / 10);
      let last = new Map<string, { requests: number; at: number }>();
      let seq = 0;
      const tick = () => {
        // A reader that does not read is cut off rather than buffered without bound.
        if (res.writableLength > EVENTS_BUFFER_MAX) {
          stop();
          res.end(`event: end\ndata: {"message":"reader too slow: stream ended"}\n\n`);
          return;
        }
        const now = performance.now();
        const next = new Map<string, { requests: number; at: number }>();
        const apps = registry.list().map((a) => {
          const f = appFigures(a, metrics);
          const prev = last.get(a.name);
          next.set(a.name, { requests: f.requests, at: now });
          const rate = prev ? Math.max(0, f.requests - prev.requests) / ((now - prev.at) / 1000) : 0;
          return { ...f, rate };
        });
        last = next;
        res.write(`id: ${seq++}\nevent: stats\ndata: ${JSON.stringify({ time: new Date().toISOString(), bucketsUs, apps })}\n\n`);
      };
      const timer = setInterval(tick, intervalMs);
      const stop = () => clearInterval(timer);
      req.raw.on('close', stop);
      res.on('close', stop);
      tick();
    },
  );

  app.post<{ Body: { definition: string; encoding?: 'text' | 'base64' } }>(
    '/ui/validate',
    {
      schema: {
        summary: 'Parse and validate a definition without deploying it: its DAG, or every problem at its line/field',
        operationId: 'uiValidate',
        body: {
          type: 'object',
          properties: {
            ...definitionBodyProperties,
          },
          required: ['definition'],
          additionalProperties: false,
        },
        response: {
          200: { description: 'ok: true with the DAG (nodes, edges, exec[0]), or ok: false with every problem and where it is', type: 'object', additionalProperties: true },
        },
      },
    },
    async (req) => {
      const { definition, encoding = 'text' } = req.body;
      const bytes = encoding === 'base64' ? Buffer.from(definition, 'base64') : Buffer.from(definition, 'utf8');
      if (bytes.length > maxDefinitionBytes) {
        throw new AtaruError('TOO_LARGE', `definition of ${bytes.length} bytes is over this server's limit of ${maxDefinitionBytes} (limits.maxDefinitionBytes)`, { jsonPath: '$.definition' });
      }
      try {
        const def = parseForServer(bytes, 'upload');
        return {
          ok: true,
          name: def.name,
          shared: def.shared ? def.shared.name : null,
          nodes: def.nodes.map((n, i) => ({ index: i, id: n.id, function: n.function.name })),
          edges: def.edges.map((e) => ({ from: e.from, to: e.to })),
          // The files a deploy must upload (the keys of POST /apps `files`), less the libraries the binaries need.
          files: [...new Set(functionRefs(def).map((r) => functionKey(r.ref)))],
          problems: [],
        };
      } catch (e) {
        if (!(e instanceof AtaruError)) throw e;
        // The first problem and its details, flat, each with its location.
        const all = [e, ...e.details].map((p) => ({ code: p.code, message: p.message, ...(p.location ? { location: p.location } : {}) }));
        return { ok: false, problems: all };
      }
    },
  );
}
