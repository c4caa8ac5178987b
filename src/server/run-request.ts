/**
 * Running one request and recording it: the one place the data port and the
 * HTTP API both go through, so a request counts the same way (and exactly
 * once) whichever listener it came from, in the metrics and in the app's
 * log ring.
 */
import { AtaruError } from '../errors.js';
import type { RunResult } from '../runtime/types.js';
import type { LiveApp } from './live-app.js';
import type { RequestSource } from './metrics.js';
import { asAtaruError } from './reply-frame.js';

/** Runs `input` on the app's current version and records the outcome; rejects with an AtaruError. */
export function runRequest(app: LiveApp, input: Buffer, source: RequestSource): Promise<RunResult> {
  const version = app.current;
  return version.handle.run(input).then(
    (r) => {
      version.metrics.ok(r, source);
      return r;
    },
    (e: unknown) => {
      const err: AtaruError = asAtaruError(e);
      version.metrics.error(err.code, source, err.location?.node);
      app.logs?.push({ kind: 'error', source, code: err.code, node: err.location?.node, function: err.location?.functionName, message: err.message });
      throw err;
    },
  );
}
