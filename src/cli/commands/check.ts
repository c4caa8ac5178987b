/**
 * `ataru check <file> [--json]`: read a definition in any form, print a
 * summary (or the normalized JSON form); every problem is an error.
 * `ataru convert <file> --to template|json|binary -o <out>`: rewrite it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { AtaruError } from '../../errors.js';
import { DEFINITION_FORMS, type DefinitionForm, encodeDefinition, parseDefinition, summarizeDefinition } from '../../app/index.js';
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

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check an app definition (template, JSON or binary wire form) and summarize it')
    .argument('<file>', 'definition file; its form is detected from its content')
    .option('--json', 'print the normalized JSON form instead of the summary')
    .action(async (file: string, opts: { json?: boolean }, command: Command) => {
      const def = await load(file);
      const out = opts.json ? encodeDefinition(def, 'json').toString() : `${summarizeDefinition(def)}\n`;
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
    .requiredOption('-o, --output <out>', "output file ('-' for stdout)")
    .action(async (file: string, opts: { to: DefinitionForm; output: string }) => {
      const bytes = encodeDefinition(await load(file), opts.to);
      if (opts.output === '-') process.stdout.write(bytes);
      else await writeFile(opts.output, bytes);
    });
}
