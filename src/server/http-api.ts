/**
 * The HTTP API (fastify; default 127.0.0.1:9990). Every route has a JSON
 * schema; the OpenAPI document generated from them is at /openapi.json.
 *
 * Deploy (POST /apps) is one JSON body, no multipart:
 *   { "definition": "<template or JSON text, or base64 of the binary struct>",
 *     "encoding": "text" | "base64"            (default "text"),
 *     "files": { "<path/name as written in the definition>": "<base64>" } }
 * Every function the definition names (exec[0] and each node) must be in
 * `files`, keyed by its folder joined with its file name (posix join, e.g.
 * path "build/" + name "noop" -> "build/noop"). The server stores them as
 * blobs and never reads the client's file system.
 *
 * Errors: status from httpStatusOf(code), body { code, message, location }.
 * A bearer token (--token) is required on every route but /healthz when set;
 * it must be set when listening on a non-loopback address.
 */
import { timingSafeEqual } from 'node:crypto';
import { definitionBodyProperties } from './definition-body.js';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { LIMITS } from '../app/model.js';
import type { ServerConfig } from '../config.js';
import { AtaruError, httpStatusOf } from '../errors.js';
import { kvmStatus } from '../runtime/kvm.js';
import type { Logger } from '../log.js';
import { parseForServer } from './definition.js';
import { readUploads, storeFunctions } from './functions.js';
import { httpError, routeNotFound } from './http-errors.js';
import type { Metrics } from './metrics.js';
import type { AppRegistry, DeployedApp } from './registry.js';
import { RawPort } from './raw-port.js';
import { runRequest } from './run-request.js';
import { asAtaruError } from './reply-frame.js';
import { registerLogsRoute } from './logs-route.js';
import type { Store } from './store.js';
import { registerUiRoutes } from './ui-routes.js';
import { isUiFile, registerUiStatic } from './ui-static.js';
import type { ClusterNode } from '../cluster/node.js';

export interface HttpApiDeps {
  config: ServerConfig;
  registry: AppRegistry;
  store: Store;
  metrics: Metrics;
  log: Logger;
  /** The cluster node, when the server is one (set once it has joined). */
  cluster?: () => ClusterNode | undefined;
}

const errorSchema = {
  description: 'an error: a stable code, what is wrong, and where',
  type: 'object',
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    location: { type: 'object', additionalProperties: true },
    details: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
  required: ['code', 'message'],
} as const;

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: LIMITS.nameBytes - 1 } },
  required: ['name'],
} as const;

const appSummarySchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    port: { type: 'integer' },
    msg_len: { type: 'integer' },
    nodes: { type: 'integer' },
    reply: { type: 'string' },
    pktcnt: { type: 'integer' },
    connections: { type: 'integer' },
    requests: { type: 'integer' },
    created: { type: 'string' },
  },
} as const;

const anyObject = { type: 'object', additionalProperties: true } as const;

function summary(a: DeployedApp) {
  const d = a.current.def;
  return {
    name: a.name,
    port: a.dataPort.port,
    msg_len: d.msg_len,
    nodes: d.nodes.length,
    reply: d.reply,
    pktcnt: d.pktcnt,
    connections: a.dataPort.connections,
    requests: a.current.handle.stats().requests,
    created: a.created,
  };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const want = Buffer.from(`Bearer ${token}`);
  const got = Buffer.from(header ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Node's HTTP server with this server's deadlines: a request (headers and
 * body) must arrive whole within httpRequestTimeoutMs of its first byte —
 * so a body sent at a byte a second gets 408 and the connection closes — an
 * idle keep-alive connection closes after httpIdleTimeoutMs, and at most
 * maxHttpConnections are open at once (more are closed at accept). Node
 * checks the request deadline on an interval; by default it is 30 s, so it
 * is made a fraction of the deadline.
 */
function slowClientSafeServer(config: ServerConfig, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const requestTimeout = config.httpRequestTimeoutMs;
  const server = createHttpServer(
    {
      requestTimeout,
      headersTimeout: requestTimeout,
      keepAliveTimeout: config.httpIdleTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(requestTimeout / 4))),
    },
    handler,
  );
  server.maxConnections = config.limits.maxHttpConnections;
  return server;
}

export async function buildHttpApi(deps: HttpApiDeps): Promise<FastifyInstance> {
  const { config, registry, store, metrics, log } = deps;
  const cluster = () => deps.cluster?.();
  const app = Fastify({
    // Access and error logs go through the one pino logger (src/log.ts).
    loggerInstance: log.child({ listener: 'http' }) as FastifyBaseLogger,
    bodyLimit: config.limits.maxHttpBodyBytes,
    requestTimeout: config.httpRequestTimeoutMs,
    keepAliveTimeout: config.httpIdleTimeoutMs,
    serverFactory: (handler) => slowClientSafeServer(config, handler),
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Ataru functions server', version: '0.1.0', description: 'Deploy DAG apps of native functions and invoke them' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: config.token ? [{ bearer: [] }] : [],
    },
  });

  // Swagger UI over the same OpenAPI document. It shows the API's shape only
  // (no data), so it is open like /healthz: a browser cannot send the token.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req) => {
    if (!config.token || req.url === '/healthz' || req.url === '/docs' || req.url.startsWith('/docs/') || (req.method === 'GET' && isUiFile(req.url))) return;
    if (!tokenMatches(req.headers.authorization, config.token)) {
      throw new AtaruError('UNAUTHENTICATED', `${req.method} ${req.url}: missing or wrong bearer token (Authorization: Bearer <token>)`);
    }
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const e = httpError(err, req);
    const status = httpStatusOf(e.code);
    if (status >= 500) log.error({ url: req.url, code: e.code, err: e.message }, 'http: server error');
    reply.code(status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = routeNotFound(req);
    reply.code(httpStatusOf(e.code)).send(e.toJSON());
  });

  const natsHealth = {
    type: 'object',
    properties: { cluster: { type: 'string' }, node: { type: 'string' }, connected: { type: 'boolean' }, server: { type: 'string' }, state: { type: 'string' }, reconnects: { type: 'integer' } },
  } as const;
  app.get('/healthz', { schema: { summary: 'Liveness, whether KVM is usable here and, in a cluster, the NATS connection', operationId: 'health', response: { 200: { description: 'the server is up; kvm says whether apps can run, nats how the cluster connection is', type: 'object', properties: { status: { type: 'string' }, apps: { type: 'integer' }, kvm: { type: 'object', properties: { usable: { type: 'boolean' }, code: { type: 'string' }, message: { type: 'string' } } }, nats: natsHealth } } } } }, async () => {
    const kvm = kvmStatus();
    const nats = cluster()?.health();
    return {
      // A node cut off from NATS still serves its local apps, but cannot take deploys or forward.
      status: nats && !nats.connected ? 'degraded' : 'ok',
      apps: registry.list().length,
      kvm: { usable: kvm.usable, ...(kvm.code ? { code: kvm.code } : {}), message: kvm.message },
      ...(nats ? { nats } : {}),
    };
  });

  app.get('/cluster', { schema: { summary: 'The cluster: every node that answers, and which version of each app it serves', operationId: 'cluster', response: { 200: { ...anyObject, description: 'the nodes and the app versions each serves' }, 404: errorSchema } } }, async () => {
    const c = cluster();
    if (!c) throw new AtaruError('NOT_FOUND', 'this server is not a cluster node: start it with --nats URL');
    return c.view();
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', operationId: 'metrics', produces: ['text/plain'], response: { 200: { description: 'Prometheus text exposition format', type: 'string' } } } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/apps', { schema: { summary: 'List deployed apps', operationId: 'listApps', response: { 200: { description: 'every deployed app', type: 'array', items: appSummarySchema } } } }, async () =>
    registry.list().map(summary),
  );

  app.get<{ Params: { name: string } }>(
    '/apps/:name',
    {
      schema: {
        summary: 'One app: definition, decoded DAG edges, instances, statistics',
        operationId: 'getApp',
        params: nameParams,
        response: {
          200: {
            description: 'the app',
            type: 'object',
            properties: {
              ...appSummarySchema.properties,
              definition: anyObject,
              edges: { type: 'array', items: { type: 'object', properties: { from: { type: 'integer' }, to: { type: 'integer' }, from_id: { type: 'string' }, to_id: { type: 'string' } } } },
              instances: anyObject,
              stats: anyObject,
              raw: { type: 'object', additionalProperties: true, description: 'raw apps only: interfaces and packet counters (received, filtered, transmitted, dropped, errors by kind, windows)' },
              latency: { type: 'object', description: 'p50/p99 (µs, queue + run) over the latest successful requests', properties: { requests: { type: 'integer' }, p50Us: { type: ['number', 'null'] }, p99Us: { type: ['number', 'null'] } } },
            },
          },
          404: errorSchema,
        },
      },
    },
    async (req) => {
      const a = registry.mustGet(req.params.name);
      const d = a.current.def;
      const stats = a.current.handle.stats();
      return {
        ...summary(a),
        definition: d,
        edges: d.edges.map((e) => ({ from: e.from, to: e.to, from_id: d.nodes[e.from]?.id ?? '', to_id: d.nodes[e.to]?.id ?? '' })),
        instances: stats.instances,
        stats,
        latency: metrics.recentLatency(a.name),
        ...(a.dataPort instanceof RawPort
          ? { raw: { iface: a.dataPort.iface, outIface: a.dataPort.outIface, port: a.dataPort.port, ...a.dataPort.counters() } }
          : {}),
      };
    },
  );

  app.post<{ Body: { definition: string; encoding?: 'text' | 'base64'; files?: Record<string, string> } }>(
    '/apps',
    {
      schema: {
        summary: 'Deploy (or atomically replace) an app with its function binaries',
        operationId: 'deployApp',
        body: {
          type: 'object',
          properties: {
            ...definitionBodyProperties,
            files: { type: 'object', additionalProperties: { type: 'string' }, description: 'base64 binaries keyed by path/name as in the definition' },
          },
          required: ['definition'],
          additionalProperties: false,
        },
        response: {
          201: {
            description: 'deployed (or replaced): its data port; a raw app also says which interfaces its frames come in and go out on',
            type: 'object',
            properties: {
              name: { type: 'string' },
              port: { type: 'integer' },
              replaced: { type: 'boolean' },
              raw: { type: 'object', properties: { iface: { type: 'string' }, outIface: { type: 'string' } } },
            },
          },
          400: errorSchema,
          403: errorSchema,
          409: errorSchema,
          429: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const { definition, encoding = 'text', files = {} } = req.body;
      const bytes = encoding === 'base64' ? Buffer.from(definition, 'base64') : Buffer.from(definition, 'utf8');
      // The body limit is for the binaries; the definition has the control
      // port's limit, so no listener parses more than that on the event loop.
      if (bytes.length > config.limits.maxDefinitionBytes) {
        throw new AtaruError('TOO_LARGE', `definition of ${bytes.length} bytes is over this server's limit of ${config.limits.maxDefinitionBytes} (limits.maxDefinitionBytes)`, {
          jsonPath: '$.definition',
        });
      }
      const def = parseForServer(bytes, 'upload');
      const replaced = registry.get(def.name) !== undefined;
      const checked = readUploads(def, files, config.limits.maxFunctionBytes);
      const a = await registry.deploy(def, storeFunctions(checked, store), { by: `http ${req.ip}` });
      reply.code(201);
      return {
        name: a.name,
        port: a.dataPort.port,
        replaced,
        ...(a.dataPort instanceof RawPort ? { raw: { iface: a.dataPort.iface, outIface: a.dataPort.outIface } } : {}),
      };
    },
  );

  app.post<{ Params: { name: string }; Body: Buffer }>(
    '/apps/:name/invoke',
    {
      schema: {
        summary: 'Run the DAG once: raw input in (application/octet-stream), raw output out',
        operationId: 'invokeApp',
        params: nameParams,
        consumes: ['application/octet-stream'],
        produces: ['application/octet-stream'],
        response: { 200: { description: 'the output bytes (sink outputs in node order)', type: 'string', format: 'binary' }, 400: errorSchema, 404: errorSchema, 413: errorSchema, 422: errorSchema, 429: errorSchema, 503: errorSchema, 504: errorSchema },
      },
    },
    async (req, reply) => {
      const a = registry.get(req.params.name);
      // In a cluster an app this node could not take at all may run elsewhere.
      if (!a && !cluster()?.knows(req.params.name)) registry.mustGet(req.params.name);
      if (!Buffer.isBuffer(req.body)) {
        throw new AtaruError('BAD_REQUEST', `invoke ${req.params.name}: send the input as Content-Type: application/octet-stream`);
      }
      if (!a) {
        const r = await cluster()!.invokeElsewhere(req.params.name, req.body)!;
        reply.header('content-type', 'application/octet-stream').header('x-ataru-dag-us', (r.dagNs / 1000).toFixed(1)).header('x-ataru-sink-lengths', r.sinkLengths.join(','));
        return r.output;
      }
      const r = await runRequest(a, req.body, 'http'); // counts and logs a failure
      reply
        .header('content-type', 'application/octet-stream')
        .header('x-ataru-dag-us', (r.dagNs / 1000).toFixed(1))
        .header('x-ataru-sink-lengths', r.sinkLengths.join(','));
      return r.output;
    },
  );

  registerLogsRoute(app, registry);
  registerUiRoutes(app, registry, metrics, config.limits.maxDefinitionBytes);
  await registerUiStatic(app);

  app.delete<{ Params: { name: string } }>(
    '/apps/:name',
    { schema: { summary: 'Remove an app (in-flight requests finish)', operationId: 'removeApp', params: nameParams, response: { 200: { description: 'removed', type: 'object', properties: { removed: { type: 'string' } } }, 404: errorSchema } } },
    async (req) => {
      await registry.remove(req.params.name);
      return { removed: req.params.name };
    },
  );

  return app;
}
