/**
 * The invocation message format on `<cluster>.invoke.<app>` (docs/scaling.md,
 * "Calling apps through NATS"). A request is a NATS request whose payload is
 * the raw input (what POST /apps/:name/invoke takes) with headers:
 *
 *   Ataru-Request-Id   the caller's id for the request (echoed in the reply)
 *   Ataru-Deadline-Ms  how long the caller waits for the reply, ms
 *   Ataru-Attempt      1, or 2 for the one retry of a stateless app
 *
 * The reply's payload is the raw output when Ataru-Status is 200, else the
 * HTTP API's error body ({code, message, location}, JSON). Reply headers:
 *
 *   Ataru-Status       the HTTP API's status for the same outcome (200, 404, 422, 504, ...)
 *   Ataru-Code         the error code (FAULT, TIMEOUT, ...) when not 200
 *   Ataru-Request-Id   as sent
 *   Ataru-Node         the node that ran it
 *   Ataru-Version      the app version (registry-entry.ts) it ran on
 *   Ataru-Dag-Us       in-VM time of the DAG, µs (as x-ataru-dag-us)
 *   Ataru-Sink-Lengths each sink's output length, comma-separated
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { AtaruError, httpStatusOf, type ErrorCode, type ErrorLocation } from '../errors.js';
import type { RunResult } from '../runtime/types.js';

export const H = {
  requestId: 'Ataru-Request-Id',
  deadline: 'Ataru-Deadline-Ms',
  attempt: 'Ataru-Attempt',
  status: 'Ataru-Status',
  code: 'Ataru-Code',
  node: 'Ataru-Node',
  version: 'Ataru-Version',
  dagUs: 'Ataru-Dag-Us',
  sinkLengths: 'Ataru-Sink-Lengths',
} as const;

export function requestHeaders(requestId: string, deadlineMs: number, attempt: number): MsgHdrs {
  const h = natsHeaders();
  h.set(H.requestId, requestId);
  h.set(H.deadline, String(Math.max(1, Math.round(deadlineMs))));
  h.set(H.attempt, String(attempt));
  return h;
}

interface Served {
  requestId: string;
  node: string;
  version: number;
}

export function okReply(r: RunResult, s: Served): { data: Uint8Array; headers: MsgHdrs } {
  const h = base(200, s);
  h.set(H.dagUs, (r.dagNs / 1000).toFixed(1));
  h.set(H.sinkLengths, r.sinkLengths.join(','));
  return { data: r.output, headers: h };
}

export function errorReply(e: AtaruError, s: Served): { data: Uint8Array; headers: MsgHdrs } {
  const h = base(httpStatusOf(e.code), s);
  h.set(H.code, e.code);
  return { data: Buffer.from(JSON.stringify(e.toJSON()), 'utf8'), headers: h };
}

function base(status: number, s: Served): MsgHdrs {
  const h = natsHeaders();
  h.set(H.status, String(status));
  h.set(H.requestId, s.requestId);
  h.set(H.node, s.node);
  h.set(H.version, String(s.version));
  return h;
}

export interface Reply {
  status: number;
  node: string;
  version: number;
  output: Buffer;
  dagNs: number;
  sinkLengths: number[];
}

/** A reply message as a result, or the AtaruError it carries (code, message and location kept). */
export function parseReply(data: Uint8Array, h: MsgHdrs | undefined, where: string): Reply {
  const status = Number(h?.get(H.status));
  if (!h || !Number.isInteger(status) || status < 100) {
    throw new AtaruError('INTERNAL', `${where}: the reply has no ${H.status} header (not an Ataru node?)`);
  }
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (status !== 200) {
    let err: { code?: ErrorCode; message?: string; location?: ErrorLocation } = {};
    try {
      err = JSON.parse(body.toString('utf8')) as typeof err;
    } catch {
      err = { message: body.toString('utf8') };
    }
    throw new AtaruError((h.get(H.code) as ErrorCode) || err.code || 'INTERNAL', err.message ?? `${where}: status ${status}`, err.location);
  }
  const sinks = h.get(H.sinkLengths);
  return {
    status,
    node: h.get(H.node),
    version: Number(h.get(H.version)) || 0,
    output: body,
    dagNs: Number(h.get(H.dagUs) || 0) * 1000,
    sinkLengths: sinks ? sinks.split(',').map(Number) : [body.length],
  };
}
