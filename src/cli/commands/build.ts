import type { Command } from 'commander';
import { build, type BuildKind } from '../../sdk/build.js';
import { collect } from '../args.js';

/** `ataru build`: compile and link a function (or exec[0] / a library) with sdk/ataru.mk. */
export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('build a function ELF (or, with --shared/--lib, exec[0] or a library) from C sources')
    .argument('<sources...>', 'C (or assembly) source files')
    .requiredOption('-o, --output <file>', 'output file')
    .option('--shared', 'build the shared code image (exec[0])')
    .option('--lib', 'build a DT_NEEDED library')
    .option('-I, --include <dir>', 'add an include directory (repeatable)', collect, [])
    .option('--link <lib.so>', 'link against exec[0] or a library (repeatable)', collect, [])
    .action(async (sources: string[], o: { output: string; shared?: boolean; lib?: boolean; include: string[]; link: string[] }) => {
      const kind: BuildKind = o.shared ? 'shared' : o.lib ? 'library' : 'function';
      const r = await build({ sources, output: o.output, kind, includes: o.include, link: o.link });
      const note = r.validated ? '' : ' (not validated: the native addon is not built)';
      process.stdout.write(`built ${r.output} (${r.bytes} bytes)${note}\n`);
    });
}
