/**
 * The one way tests run the ataru CLI as a child process: node with tsx on
 * the source entry (the tests have no dist/ build). tsx is named by absolute
 * URL, so the child may run in any folder.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scaledTimeout } from './scale.js';

const cliEntry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
const tsxImport = import.meta.resolve('tsx');

/** Arguments for process.execPath that run `ataru ...args`. */
export function cliArgs(...args: string[]): string[] {
  return ['--import', tsxImport, cliEntry, ...args];
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ataru ...args` as a child process to its end (stdin closed unless given). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: Buffer | string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(...args), {
      cwd: opts.cwd,
      env: { ...process.env, ATARU_LOG_LEVEL: 'silent', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ataru ${args.join(' ')}: still running after ${opts.timeoutMs ?? scaledTimeout(60_000)} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? scaledTimeout(60_000));
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
