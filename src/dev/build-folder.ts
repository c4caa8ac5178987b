/**
 * "Build what the app's folder builds" for `ataru up`: its Makefile when it
 * has one (make -C folder), else `ataru build` of <name>.c into each
 * function the definition names (exec[0] as the shared image). A failed
 * build is an error whose message is the compiler's output.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { promisify } from 'node:util';
import { resolveFunctionPath } from '../app/index.js';
import { AtaruError } from '../errors.js';
import { build } from '../sdk/build.js';
import { parseForServer } from '../server/definition.js';
import { functionRefs } from '../server/functions.js';

const run = promisify(execFile);

/** This very ataru as a shell command, so a Makefile made by `ataru new` (ATARU ?= ataru) builds with its SDK. */
function selfCommand(): string {
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  return [process.execPath, ...process.execArgv, process.argv[1] ?? ''].map(q).join(' ');
}

export interface FolderBuild {
  /** "make -C dir", or the `ataru build` lines run. */
  steps: string[];
  /** The function binaries the definition names, absolute. */
  outputs: string[];
}

/** The absolute paths of every binary the definition names. */
export function definitionOutputs(file: string): string[] {
  const def = parseForServer(readFileSync(file), file);
  return [...new Set(functionRefs(def).map(({ ref }) => resolveFunctionPath(ref, dirname(file))))];
}

export async function buildFolder(file: string): Promise<FolderBuild> {
  const dir = dirname(file);
  if (existsSync(join(dir, 'Makefile')) || existsSync(join(dir, 'makefile'))) {
    try {
      await run('make', ['-C', dir, '--no-print-directory'], { maxBuffer: 16 << 20, env: { ...process.env, ATARU: process.env.ATARU ?? selfCommand() } });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      const text = [err.stdout, err.stderr].filter(Boolean).join('').trim() || err.message;
      throw new AtaruError('BAD_REQUEST', `make -C ${dir} failed:\n${text}`, { file: join(dir, 'Makefile') });
    }
    return { steps: [`make -C ${dir}`], outputs: definitionOutputs(file) };
  }
  const def = parseForServer(readFileSync(file), file);
  const steps: string[] = [];
  const outputs: string[] = [];
  for (const { ref, where } of functionRefs(def)) {
    const output = resolveFunctionPath(ref, dir);
    if (outputs.includes(output)) continue;
    outputs.push(output);
    const source = join(dir, `${basename(ref.name, extname(ref.name))}.c`);
    if (!existsSync(source)) {
      if (existsSync(output)) continue; // a prebuilt binary: deploy it as it is
      throw new AtaruError('NOT_FOUND', `no Makefile in ${dir} and no ${basename(source)} to build ${ref.name} from`, { file, ...where });
    }
    await build({ sources: [source], output, kind: where.field === 'exec[0]' ? 'shared' : 'function' });
    steps.push(`ataru build ${source} -o ${output}`);
  }
  return { steps, outputs };
}
