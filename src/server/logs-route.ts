/**
 * GET /apps/:name/logs: an app's log ring (log-ring.ts) as NDJSON (one entry
 * per line; the default) or server-sent events (`Accept: text/event-stream`
 * or `?format=sse`). `follow=true` keeps the response open and streams new
 * entries until the client goes, the app is removed or the server stops.
 * `node` and `since` (ISO time, ms since the epoch, or "5m"-style) filter.
 */
import type { FastifyInstance } from 'fastify';
import { LIMITS } from '../app/model.js';
import { AtaruError } from '../errors.js';
import { type LogEntry, type LogFilter, parseSince } from './log-ring.js';
import type { AppRegistry } from './registry.js';

interface LogsQuery {
  follow?: boolean;
  node?: number;
  since?: string;
  format?: 'ndjson' | 'sse';
}

/** Bytes a follow stream may have waiting for its reader. */
const FOLLOW_BUFFER_MAX = 1024 * 1024;

const entrySchema = {
  type: 'object',
  description: 'one log entry',
  properties: {
    seq: { type: 'integer' },
    time: { type: 'string', format: 'date-time' },
    kind: { type: 'string', enum: ['log', 'error', 'event'] },
    node: { type: 'integer' },
    function: { type: 'string' },
    request: { type: 'integer' },
    code: { type: 'string' },
    source: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export function registerLogsRoute(app: FastifyInstance, registry: AppRegistry): void {
  app.get<{ Params: { name: string }; Querystring: LogsQuery }>(
    '/apps/:name/logs',
    {
      schema: {
        summary: "An app's function log lines, failed requests and deploys, from a bounded ring (NDJSON or server-sent events)",
        operationId: 'appLogs',
        params: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: LIMITS.nameBytes - 1 } }, required: ['name'] },
        querystring: {
          type: 'object',
          properties: {
            follow: { type: 'boolean', default: false, description: 'keep streaming new entries' },
            node: { type: 'integer', minimum: 0, description: 'only this DAG node' },
            since: { type: 'string', description: 'ISO time, ms since the epoch, or a duration back from now (90s, 5m, 2h, 1d)' },
            format: { type: 'string', enum: ['ndjson', 'sse'], description: 'default: ndjson, or sse with Accept: text/event-stream' },
          },
          additionalProperties: false,
        },
        produces: ['application/x-ndjson', 'text/event-stream'],
        response: { 200: { ...entrySchema, description: 'entries, oldest first, one JSON object per line (or per SSE event)' } },
      },
    },
    async (req, reply) => {
      const a = registry.mustGet(req.params.name);
      const q = req.query;
      const filter: LogFilter = { node: q.node };
      if (q.since !== undefined) {
        filter.sinceMs = parseSince(q.since);
        if (filter.sinceMs === undefined) {
          throw new AtaruError('BAD_REQUEST', `since "${q.since}": give an ISO time, ms since the epoch, or a duration such as 90s, 5m, 2h`, { field: 'since' });
        }
      }
      const sse = q.format === 'sse' || (q.format === undefined && (req.headers.accept ?? '').includes('text/event-stream'));
      const encode = sse ? (e: LogEntry) => `id: ${e.seq}\nevent: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n` : (e: LogEntry) => `${JSON.stringify(e)}\n`;
      const type = sse ? 'text/event-stream' : 'application/x-ndjson';
      const backlog = a.logs.list(filter).map(encode).join('');
      if (!q.follow) {
        reply.type(type);
        return backlog;
      }
      // A stream outlives the handler: take the socket from fastify.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(backlog || (sse ? ': following\n\n' : ''));
      const stop = a.logs.follow(
        filter,
        (e) => {
          // A follower that does not read is cut off rather than buffered without bound.
          if (res.writableLength > FOLLOW_BUFFER_MAX) {
            stop();
            res.end(sse ? `event: end\ndata: {"message":"reader too slow: stream ended"}\n\n` : '');
            return;
          }
          res.write(encode(e));
        },
        () => res.end(),
      );
      req.raw.on('close', stop);
      res.on('close', stop);
    },
  );
}
