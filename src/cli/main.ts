/**
 * The `ataru` command line. Each verb lives in its own module under
 * commands/ and registers itself on the program; this file only wires them.
 * Verbs are a stable interface: extend, never rename.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { AtaruError } from '../errors.js';
import { packageRoot } from '../runtime/paths.js';
import { registerBuild } from './commands/build.js';
import { registerRun } from './commands/run.js';
import { registerCheck, registerConvert } from './commands/check.js';
import { registerServe } from './commands/serve.js';
import { registerClientCommands } from './commands/client.js';
import { registerNew } from './commands/new.js';
import { registerDoctor } from './commands/doctor.js';
import { registerLogs } from './commands/logs.js';
import { registerUp } from './commands/up.js';
import { registerCompletion } from './commands/completion.js';
import { errorJson, wantsJson } from './output.js';

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function makeProgram(argv: string[] = []): Command {
  const program = new Command();
  // With --json, commander's own usage errors come out as JSON too (main()).
  if (wantsJson(argv)) program.configureOutput({ outputError: () => {}, writeErr: () => {} });
  program
    .name('ataru')
    .description('Ataru: native functions as DAG apps in KVM micro-VMs with no guest OS')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  registerBuild(program);
  registerRun(program);
  registerCheck(program);
  registerConvert(program);
  registerServe(program);
  registerClientCommands(program); // deploy, invoke, send, ls, rm, inspect, stats
  registerNew(program);
  registerDoctor(program);
  registerLogs(program);
  registerUp(program);
  registerCompletion(program); // last: it lists the verbs above
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = makeProgram(argv);
  const json = wantsJson(argv);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // commander's own exits (help, version, usage errors) carry exitCode.
    const code = (err as { exitCode?: number }).exitCode;
    const ccode = (err as { code?: string }).code;
    if (typeof code === 'number' && ccode?.startsWith('commander.')) {
      const quiet = ccode === 'commander.helpDisplayed' || ccode === 'commander.version' || ccode === 'commander.help';
      if (json && !quiet) {
        process.stdout.write(JSON.stringify({ code: 'BAD_REQUEST', message: (err as Error).message.replace(/^error: /, '') }) + '\n');
      }
      process.exitCode = code;
      return;
    }
    if (json) {
      process.stdout.write(JSON.stringify(errorJson(err), null, 2) + '\n');
      process.exitCode = 1;
      return;
    }
    if (err instanceof AtaruError) {
      process.stderr.write(`ataru: ${err.describe()}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
