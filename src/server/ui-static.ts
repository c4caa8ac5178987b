/**
 * The dashboard's files (ui/, bundled by Vite into dist/ui at build time and
 * shipped in the package): served at / with a strict Content-Security-Policy
 * (no inline script or style, nothing from another origin, no framing).
 *
 * The files hold no data, so like /docs they are served without the token (a
 * browser cannot send a bearer token when it navigates); every request the
 * page makes for data (/apps, /ui/events, ...) needs the token.
 *
 * The page names its icon (an SVG among the bundles); /favicon.ico, which
 * browsers and tools ask for on their own, answers 204 without the token so
 * it neither logs a 401 nor tells anything.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/ui from the compiled server (dist/src/server) or from the sources run by tsx (src/server). */
export function uiDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const d = /[/\\]dist[/\\]src[/\\]server$/.test(here) ? join(here, '../../ui') : join(here, '../../dist/ui');
  return existsSync(join(d, 'index.html')) ? d : undefined;
}

/** True for the URLs the dashboard's files answer (open without the token). */
export function isUiFile(url: string): boolean {
  const path = url.split('?')[0]!;
  return path === '/' || path === '/index.html' || path === '/favicon.ico' || path.startsWith('/assets/');
}

export async function registerUiStatic(app: FastifyInstance): Promise<void> {
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => {
    reply.code(204).header('cache-control', 'max-age=86400');
    return reply.send();
  });
  const root = uiDir();
  if (!root) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => {
      reply.code(404).type('text/plain');
      return 'the dashboard is not built here: run `npm run build:ui`\n';
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    decorateReply: false,
    // dist/ui holds only index.html and the hashed bundles; no listing.
    list: false,
    setHeaders(res) {
      res.setHeader('content-security-policy', UI_CSP);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
    },
  });
}
