/**
 * `ataru doctor`: checks that this machine can serve (and build) apps, one
 * line per check with the fix for each failure. Exit status 0 when it can
 * serve, 1 when not (src/doctor/checks.ts says which checks count).
 */
import type { Command } from 'commander';
import { DEFAULT_CONTROL_PORT, DEFAULT_HOST, DEFAULT_HTTP_PORT, loadConfig } from '../../config.js';
import { canServe, runChecks, type CheckResult } from '../../doctor/checks.js';
import { print, withJson, type JsonFlag } from '../output.js';
import { int } from '../args.js';

interface DoctorFlags extends JsonFlag {
  config?: string;
  dataDir?: string;
  host?: string;
  controlPort?: number;
  httpPort?: number;
}

const MARK: Record<CheckResult['state'], string> = { pass: 'ok  ', warn: 'warn', fail: 'FAIL' };

function human(results: CheckResult[], ok: boolean): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${MARK[r.state]}  ${r.title}: ${r.detail}`);
    if (r.fix) lines.push(`      fix: ${r.fix}`);
  }
  lines.push(ok ? 'this machine can serve apps' : 'this machine cannot serve apps: fix the FAIL lines above');
  return lines.join('\n');
}

export function registerDoctor(program: Command): void {
  withJson(
    program
      .command('doctor')
      .description('check that this machine can serve and build apps: KVM, toolchain, data dir, ports')
      .option('-c, --config <file>', 'the JSON config file ataru serve would use')
      .option('--data-dir <dir>', 'data dir to check (default ~/.ataru)')
      .option('--host <addr>', `address the listeners would use (default ${DEFAULT_HOST})`)
      .option('--control-port <port>', `control port to check (default ${DEFAULT_CONTROL_PORT})`, int)
      .option('--http-port <port>', `HTTP API port to check (default ${DEFAULT_HTTP_PORT})`, int),
  ).action(async (f: DoctorFlags) => {
    // Only the fields doctor looks at: a token is not needed to check a port.
    const cfg = loadConfig(f.config, { dataDir: f.dataDir, host: f.host, controlPort: f.controlPort, httpPort: f.httpPort, token: 'doctor' });
    const results = await runChecks({
      dataDir: cfg.dataDir,
      host: cfg.host,
      ports: [
        { name: 'control port', port: cfg.controlPort },
        { name: 'http port', port: cfg.httpPort },
      ],
    });
    const ok = canServe(results);
    print(f, { ok, checks: results }, human(results, ok));
    if (!ok) process.exitCode = 1;
  });
}
