/**
 * Every error reply of the HTTP API is an AtaruError: its code picks the
 * status (httpStatusOf, src/errors.ts) and its toJSON() is the body
 * `{ code, message, location?, details? }`. Fastify's own errors (schema
 * validation, body parsing, size limits) and unknown routes are turned into
 * one here, so no route builds a body or a status by hand.
 */
import type { FastifyError, FastifyRequest } from 'fastify';
import { AtaruError, type ErrorCode } from '../errors.js';
import { asAtaruError } from './reply-frame.js';

/** Fastify's client-error codes that mean more than "bad request". */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'TOO_LARGE',
};

/** The AtaruError for whatever a route, hook or fastify threw. */
export function httpError(err: unknown, req: FastifyRequest): AtaruError {
  if (err instanceof AtaruError) return err;
  const fe = err as FastifyError;
  const what = `${req.method} ${req.url}`;
  if (fe.validation) {
    const path = fe.validation[0]?.instancePath.replace(/\//g, '.') ?? '';
    return new AtaruError('BAD_REQUEST', `${what}: ${fe.message}`, { jsonPath: `$${path}` });
  }
  if (fe.statusCode !== undefined && fe.statusCode < 500) {
    return new AtaruError((fe.code && FASTIFY_CODES[fe.code]) || 'BAD_REQUEST', `${what}: ${fe.message}`);
  }
  return asAtaruError(err);
}

export function routeNotFound(req: FastifyRequest): AtaruError {
  return new AtaruError('NOT_FOUND', `${req.method} ${req.url}: no such route (the API is listed at /openapi.json)`);
}
