/**
 * Output conventions every verb shares: human text by default, `--json` for
 * scripts — the result as JSON on stdout, and on failure the error as the
 * HTTP API returns it ({code, message, location?}) on stdout, exit 1.
 */
import type { Command } from 'commander';
import { AtaruError } from '../errors.js';

export interface JsonFlag {
  json?: boolean;
}

/** Adds `--json` to a verb (one place, so every verb words it alike). */
export function withJson(cmd: Command, what = 'machine-readable output (errors too: {code, message})'): Command {
  return cmd.option('--json', what);
}

/** The result: JSON with --json, else the human text (a newline added). */
export function print(f: JsonFlag, json: unknown, human: string): void {
  if (f.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else if (human) process.stdout.write(human.endsWith('\n') ? human : human + '\n');
}

/** Did the user ask for JSON anywhere on the command line (for errors before or outside a verb)? */
export function wantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}

/** Any thrown value as the API's error shape. */
export function errorJson(err: unknown): Record<string, unknown> {
  if (err instanceof AtaruError) return err.toJSON();
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };
}
