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
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { LIMITS } from '../app/model.js';
import type { ServerConfig } from '../config.js';
import { AtaruError, httpStatusOf } from '../errors.js';
import { kvmStatus } from '../runtime/kvm.js';
import type { Logger } from '../log.js';
import { parseForServer } from './definition.js';
import { storeFromUploads } from './functions.js';
import type { Metrics } from './metrics.js';
import type { AppRegistry, DeployedApp } from './registry.js';
import { asAtaruError } from './reply-frame.js';
import { registerLogsRoute } from './logs-route.js';
import type { Store } from './store.js';

export interface HttpApiDeps {
  config: ServerConfig;
  registry: AppRegistry;
  store: Store;
  metrics: Metrics;
  log: Logger;
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

export async function buildHttpApi(deps: HttpApiDeps): Promise<FastifyInstance> {
  const { config, registry, store, metrics, log } = deps;
  // Access and error logs go through the one pino logger (src/log.ts).
  const app = Fastify({ loggerInstance: log.child({ listener: 'http' }) as FastifyBaseLogger, bodyLimit: config.limits.maxHttpBodyBytes });

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

  app.addHook('onRequest', async (req, reply) => {
    if (!config.token || req.url === '/healthz' || req.url === '/docs' || req.url.startsWith('/docs/')) return;
    if (!tokenMatches(req.headers.authorization, config.token)) {
      const e = new AtaruError('FORBIDDEN', `${req.method} ${req.url}: missing or wrong bearer token (Authorization: Bearer <token>)`);
      reply.code(401).send(e.toJSON());
    }
  });

  app.setErrorHandler((err: FastifyError | AtaruError, req, reply) => {
    if (err instanceof AtaruError) {
      reply.code(httpStatusOf(err.code)).send(err.toJSON());
      return;
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      reply.code(400).send({ code: 'BAD_REQUEST', message: `${req.method} ${req.url}: ${fe.message}`, location: { jsonPath: `$${fe.validation[0]?.instancePath.replace(/\//g, '.') ?? ''}` } });
      return;
    }
    if (fe.statusCode && fe.statusCode < 500) {
      reply.code(fe.statusCode).send({ code: 'BAD_REQUEST', message: `${req.method} ${req.url}: ${fe.message}` });
      return;
    }
    log.error({ url: req.url, err: fe.message }, 'http: internal error');
    reply.code(500).send(asAtaruError(err).toJSON());
  });

  // Unknown routes answer in the same {code, message} shape as every other error.
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new AtaruError('NOT_FOUND', `${req.method} ${req.url}: no such route (the API is described at /openapi.json)`).toJSON());
  });

  app.get('/healthz', { schema: { summary: 'Liveness, and whether KVM is usable here', operationId: 'health', response: { 200: { description: 'the server is up; kvm says whether apps can run', type: 'object', properties: { status: { type: 'string' }, apps: { type: 'integer' }, kvm: { type: 'object', properties: { usable: { type: 'boolean' }, code: { type: 'string' }, message: { type: 'string' } } } } } } } }, async () => {
    const kvm = kvmStatus();
    return {
      status: 'ok',
      apps: registry.list().length,
      kvm: { usable: kvm.usable, ...(kvm.code ? { code: kvm.code } : {}), message: kvm.message },
    };
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
            definition: { type: 'string', minLength: 1, description: 'template or JSON text, or base64 of the 54,008-byte binary struct' },
            encoding: { type: 'string', enum: ['text', 'base64'], default: 'text' },
            files: { type: 'object', additionalProperties: { type: 'string' }, description: 'base64 binaries keyed by path/name as in the definition' },
          },
          required: ['definition'],
          additionalProperties: false,
        },
        response: {
          201: { description: 'deployed (or replaced): its data port', type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' }, replaced: { type: 'boolean' } } },
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
      const def = parseForServer(bytes, 'upload');
      const replaced = registry.get(def.name) !== undefined;
      const blobs = storeFromUploads(def, files, store);
      const a = await registry.deploy(def, blobs);
      reply.code(201);
      return { name: a.name, port: a.dataPort.port, replaced };
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
        response: { 200: { description: 'the output bytes (sink outputs in node order)', type: 'string', format: 'binary' }, 400: errorSchema, 404: errorSchema, 422: errorSchema, 429: errorSchema, 503: errorSchema, 504: errorSchema },
      },
    },
    async (req, reply) => {
      const a = registry.mustGet(req.params.name);
      if (!Buffer.isBuffer(req.body)) {
        throw new AtaruError('BAD_REQUEST', `invoke ${req.params.name}: send the input as Content-Type: application/octet-stream`);
      }
      const v = a.current;
      try {
        const r = await v.handle.run(req.body);
        v.metrics.ok(r, 'http');
        reply
          .header('content-type', 'application/octet-stream')
          .header('x-ataru-dag-us', (r.dagNs / 1000).toFixed(1))
          .header('x-ataru-sink-lengths', r.sinkLengths.join(','));
        return r.output;
      } catch (e) {
        const err = asAtaruError(e);
        v.metrics.error(err.code, 'http');
        a.logs.push({ kind: 'error', source: 'http', code: err.code, node: err.location?.node, function: err.location?.functionName, message: err.message });
        throw e;
      }
    },
  );

  registerLogsRoute(app, registry);

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
