/**
 * `ataru logs APP [-f] [--node N] [--since T]`: a deployed app's function
 * log lines, failed requests and deploys, from the server's per-app ring
 * (GET /apps/:name/logs). Works against a remote server with --server and
 * --token like every client verb; --json prints the entries as NDJSON.
 */
import type { Command } from 'commander';
import { AtaruError } from '../../errors.js';
import type { ApiClient } from '../../client/api-client.js';
import { client, common, type CommonFlags } from '../server-flags.js';

interface LogsFlags extends CommonFlags {
  follow?: boolean;
  node?: number;
  since?: string;
}

function nodeIndex(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new AtaruError('BAD_REQUEST', `--node: expected a node index (0, 1, ...), got "${v}"`);
  return n;
}

/** One entry as a line: time, what, where, message. */
export function formatEntry(e: Record<string, unknown>): string {
  const where = [e.node !== undefined ? `node ${String(e.node)}${e.function ? ` (${String(e.function)})` : ''}` : '', e.request !== undefined ? `request ${String(e.request)}` : ''].filter(Boolean).join(' ');
  const what = e.kind === 'error' ? `error ${String(e.code ?? '')}${e.source ? ` (${String(e.source)})` : ''}` : e.kind === 'event' ? 'event' : 'log';
  return `${String(e.time)}  ${what}${where ? `  ${where}` : ''}  ${String(e.message)}`;
}

/** Prints the entries (following when asked) until the stream ends or signal aborts. */
export async function printLogs(api: ApiClient, name: string, f: { follow?: boolean; node?: number; since?: string; json?: boolean }, signal?: AbortSignal, prefix = ''): Promise<void> {
  for await (const e of api.logs(name, { follow: f.follow, node: f.node, since: f.since }, signal)) {
    process.stdout.write(f.json ? `${JSON.stringify(e)}\n` : `${prefix}${formatEntry(e)}\n`);
  }
}

export function registerLogs(program: Command): void {
  common(
    program
      .command('logs <app>')
      .description("an app's function log lines (ataru_log), failed requests and deploys, from the server")
      .option('-f, --follow', 'keep printing new entries (Ctrl-C stops)')
      .option('--node <n>', 'only this DAG node (its index)', nodeIndex)
      .option('--since <time>', 'entries from this time on: ISO time, or a duration back from now (90s, 5m, 2h, 1d)'),
  ).action(async (name: string, f: LogsFlags) => {
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    try {
      await printLogs(client(f), name, f, ac.signal);
    } finally {
      process.off('SIGINT', stop);
    }
  });
}
