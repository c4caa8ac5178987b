import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { AtaruError } from '../../errors.js';
import { packageRoot } from '../../runtime/paths.js';
import { build, type BuildKind } from '../../sdk/build.js';
import { collect } from '../args.js';
import { print, withJson, type JsonFlag } from '../output.js';

interface BuildFlags extends JsonFlag {
  output?: string;
  shared?: boolean;
  lib?: boolean;
  include: string[];
  link: string[];
  printSdk?: boolean;
}

/** The obvious output: the first source's name with .elf (a function) or .so (exec[0], a library). */
export function defaultOutput(sources: string[], kind: BuildKind): string {
  const first = sources[0]!;
  return `${basename(first, extname(first))}${kind === 'function' ? '.elf' : '.so'}`;
}

/** `ataru build`: compile and link a function (or exec[0] / a library) with sdk/ataru.mk. */
export function registerBuild(program: Command): void {
  withJson(
    program
      .command('build')
      .description('build a function ELF (or, with --shared/--lib, exec[0] or a library) from C sources')
      .argument('[sources...]', 'C (or assembly) source files')
      .option('-o, --output <file>', 'output file (default: the first source with .elf, or .so for --shared/--lib)')
      .option('--shared', 'build the shared code image (exec[0])')
      .option('--lib', 'build a DT_NEEDED library')
      .option('-I, --include <dir>', 'add an include directory (repeatable)', collect, [])
      .option('--link <lib.so>', 'link against exec[0] or a library (repeatable)', collect, [])
      .option('--print-sdk', "print the SDK's folder (its include/ has ataru.h: for host builds and Makefiles) and exit"),
  ).action(async (sources: string[], o: BuildFlags) => {
    if (o.printSdk) {
      print(o, { sdk: `${packageRoot}/sdk` }, `${packageRoot}/sdk`);
      return;
    }
    if (o.shared && o.lib) throw new AtaruError('BAD_REQUEST', '--shared and --lib exclude each other: --shared builds exec[0], --lib a library it or a function links against');
    if (!sources.length) throw new AtaruError('BAD_REQUEST', 'ataru build: give the C sources to build (ataru build f.c [-o f.elf])');
    const kind: BuildKind = o.shared ? 'shared' : o.lib ? 'library' : 'function';
    const r = await build({ sources, output: o.output ?? defaultOutput(sources, kind), kind, includes: o.include, link: o.link });
    const note = r.validated ? '' : ' (not validated: the native addon is not built)';
    print(o, r, `built ${r.output} (${r.bytes} bytes)${note}`);
  });
}
