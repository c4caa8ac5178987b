/**
 * Running one request and recording it: the one place the data port and the
 * HTTP API both go through, so a request counts the same way (and exactly
 * once) whichever listener it came from.
 */
import { AtaruError } from '../errors.js';
import type { RunResult } from '../runtime/types.js';
import type { AppVersion } from './live-app.js';
import type { RequestSource } from './metrics.js';
import { asAtaruError } from './reply-frame.js';

/** Runs `input` on `version` and records the outcome in its app's metrics; rejects with an AtaruError. */
export function runRequest(version: AppVersion, input: Buffer, source: RequestSource): Promise<RunResult> {
  return version.handle.run(input).then(
    (r) => {
      version.metrics.ok(r, source);
      return r;
    },
    (e: unknown) => {
      const err: AtaruError = asAtaruError(e);
      version.metrics.error(err.code, source);
      throw err;
    },
  );
}
