/**
 * `ataru run <fn.elf>`: runs one function once in a fresh sandbox and writes
 * its output bytes to stdout. Errors go to stderr through main.ts.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { AtaruError } from '../../errors.js';
import { Sandbox } from '../../runtime/sandbox.js';
import { readStdin } from '../args.js';

interface RunFlags {
  json?: boolean;
  input?: string;
  nodeId?: string;
  timeoutMs?: string;
}

function parseNodeId(s: string): bigint {
  try {
    const v = BigInt(s);
    if (v >= 0n && v < 1n << 64n) return v;
  } catch {
    // fall through to the error
  }
  throw new AtaruError('BAD_REQUEST', `--node-id must be an unsigned 64-bit integer, got "${s}"`);
}

function parseTimeout(s: string): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v <= 0) throw new AtaruError('BAD_REQUEST', `--timeout-ms must be a positive integer, got "${s}"`);
  return v;
}

async function readInput(file: string | undefined): Promise<Buffer> {
  if (file === undefined) return Buffer.alloc(0);
  if (file === '-') return readStdin();
  try {
    return await readFile(file);
  } catch (err) {
    throw new AtaruError('BAD_REQUEST', `cannot read input: ${(err as Error).message}`, { file });
  }
}

const f_json = (f: RunFlags) => f.json === true;

export function registerRun(program: Command): void {
  program
    .command('run <function>')
    .description('run a function ELF once in a sandbox; its output goes to stdout')
    .option('--input <file>', 'request bytes from a file ("-" for stdin; default: empty)')
    .option('--node-id <n>', 'node_id passed to the function (default: 0)')
    .option('--timeout-ms <n>', 'deadline in milliseconds')
    .option('--json', 'print {bytes, base64, dagUs} instead of the raw output; errors as {code, message}')
    .action(async (fn: string, flags: RunFlags) => {
      const nodeId = flags.nodeId !== undefined ? parseNodeId(flags.nodeId) : undefined;
      const timeoutMs = flags.timeoutMs !== undefined ? parseTimeout(flags.timeoutMs) : undefined;
      const input = await readInput(flags.input);
      const sb = await Sandbox.load(fn, {
        timeoutMs,
        onLog: (l) => process.stderr.write(`[${l.app} node ${l.node}] ${l.message}\n`),
      });
      try {
        const r = await sb.call(input, { nodeId });
        const output = f_json(flags) ? Buffer.from(JSON.stringify({ bytes: r.output.length, base64: r.output.toString('base64') }) + '\n') : r.output;
        await new Promise<void>((resolve, reject) => process.stdout.write(output, (e) => (e ? reject(e) : resolve())));
      } finally {
        await sb.close();
      }
    });
}
