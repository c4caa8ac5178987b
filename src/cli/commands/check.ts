/**
 * `ataru check <file> [--json]`: read a definition in any form, print a
 * summary (or the normalized JSON form); every problem is an error.
 * `ataru convert <file> --to template|json|binary -o <out>`: rewrite it.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Command, Option } from 'commander';
import { AtaruError } from '../../errors.js';
import { DEFINITION_FORMS, type DefinitionForm, encodeDefinition, parseDefinition, resolveFunctionPath, summarizeDefinition } from '../../app/index.js';
import { formatSize } from '../../app/describe.js';
import { functionRefs } from '../../server/functions.js';
import type { AppDefinition } from '../../app/model.js';

async function load(file: string): Promise<AppDefinition> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new AtaruError('BAD_DEFINITION', `cannot read the definition: ${(err as Error).message}`, { file });
  }
  return parseDefinition(bytes, { file });
}

/** Every function binary the definition names, relative to its folder: present, and an ELF. */
function checkFiles(def: AppDefinition, file: string): string[] {
  const problems: AtaruError[] = [];
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const { ref, where } of functionRefs(def)) {
    const path = resolveFunctionPath(ref, dirname(file));
    if (seen.has(path)) continue;
    seen.add(path);
    try {
      const size = statSync(path).size;
      const magic = Buffer.alloc(4);
      const fd = openSync(path, 'r');
      try {
        readSync(fd, magic, 0, 4, 0);
      } finally {
        closeSync(fd);
      }
      if (magic.readUInt32BE(0) !== 0x7f454c46) problems.push(new AtaruError('BAD_ELF', `${path} is not an ELF file`, { file, ...where }));
      else lines.push(`  ${where.field} ${path} (${formatSize(size)})`);
    } catch (e) {
      problems.push(new AtaruError('NOT_FOUND', `${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}${/build\//.test(path) ? ' (not built yet? run make, or ataru up)' : ''}`, { file, ...where }));
    }
  }
  if (problems.length) throw new AtaruError(problems[0]!.code, problems[0]!.message, problems[0]!.location, problems.slice(1));
  return ['files:', ...lines];
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check an app definition (template, JSON or binary wire form) and summarize it')
    .argument('<file>', 'definition file; its form is detected from its content')
    .option('--json', 'print the normalized JSON form instead of the summary (errors as {code, message})')
    .option('--files', 'also check that every function binary it names exists (relative to the file) and is an ELF')
    .action(async (file: string, opts: { json?: boolean; files?: boolean }, command: Command) => {
      const def = await load(file);
      const files = opts.files ? checkFiles(def, file) : [];
      const out = opts.json ? encodeDefinition(def, 'json').toString() : `${[summarizeDefinition(def), ...files].join('\n')}\n`;
      // Through commander's output settings, so an embedding program can capture it.
      command.configureOutput().writeOut!(out);
    });
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert an app definition between the template, JSON and binary wire forms')
    .argument('<file>', 'definition file; its form is detected from its content')
    .addOption(new Option('--to <form>', 'form to write').choices(DEFINITION_FORMS).makeOptionMandatory())
    .option('-o, --output <out>', "output file (default, or '-': stdout)")
    .option('--json', 'with -o: print {output, form, bytes}; errors as {code, message}')
    .action(async (file: string, opts: { to: DefinitionForm; output?: string; json?: boolean }) => {
      const bytes = encodeDefinition(await load(file), opts.to);
      if (opts.output === undefined || opts.output === '-') {
        if (opts.to === 'binary' && process.stdout.isTTY) {
          throw new AtaruError('BAD_REQUEST', 'the binary form is 54,008 bytes of binary: give -o FILE, or pipe stdout to a file');
        }
        process.stdout.write(bytes);
        return;
      }
      await writeFile(opts.output, bytes);
      if (opts.json) process.stdout.write(`${JSON.stringify({ output: opts.output, form: opts.to, bytes: bytes.length })}\n`);
      return;
    });
}
