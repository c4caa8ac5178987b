/**
 * Application definitions: read any of the three forms into the one model
 * (model.ts), write the model back in any form. See docs/app-definitions.md.
 */
import { AtaruError } from '../errors.js';
import type { AppDefinition } from './model.js';
import { BINARY_SIZE, decodeBinary, encodeBinary } from './binary.js';
import { readJson, writeJson } from './json.js';
import { readTemplate, writeTemplate } from './template.js';
import { fieldError } from './problems.js';
import { validateDefinition } from './validate.js';

export type DefinitionForm = 'template' | 'json' | 'binary';
export const DEFINITION_FORMS: readonly DefinitionForm[] = ['template', 'json', 'binary'];

export type { AppDefinition } from './model.js';
export { BINARY_SIZE } from './binary.js';
export { appDefinitionJsonSchema, readJsonValue as definitionFromJson } from './json.js';
export { resolveFunctionPath } from './resolve.js';
export { describeDag, summarizeDefinition } from './describe.js';
export { roots, sinks } from './dag.js';

/**
 * The form of some bytes, by content. Text never holds a NUL and every valid
 * wire struct does, so a NUL means the binary form (a truncated struct then
 * gets "expected 54008 bytes"); a '{' first after blanks (and a BOM) means
 * JSON; otherwise exactly 54,008 bytes is the binary form, anything else a
 * template.
 */
export function detectForm(bytes: Buffer): DefinitionForm {
  if (bytes.includes(0)) return 'binary';
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const first = bytes.findIndex((b, i) => i >= bom && b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
  if (first >= 0 && bytes[first] === 0x7b) return 'json';
  return bytes.length === BINARY_SIZE ? 'binary' : 'template';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Buffer, file?: string): string {
  try {
    return utf8.decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new AtaruError('BAD_DEFINITION', 'expected UTF-8 text', file !== undefined ? { file } : undefined);
  }
}

/** Reads a definition in any form; throws AtaruError BAD_DEFINITION listing every problem. */
export function parseDefinition(bytes: Buffer, options: { file?: string } = {}): AppDefinition {
  const { file } = options;
  switch (detectForm(bytes)) {
    case 'binary':
      return decodeBinary(bytes, file);
    case 'json':
      return readJson(text(bytes, file), file);
    case 'template':
      return readTemplate(text(bytes, file), file);
  }
}

/** Throws AtaruError BAD_DEFINITION (located by field) if a definition built in code is invalid. */
export function assertValidDefinition(def: AppDefinition): void {
  const problems = validateDefinition(def);
  if (problems.length) throw fieldError(problems, def.nodes.length);
}

/** Writes a valid definition; throws if it is invalid or the form can't hold it. */
export function encodeDefinition(def: AppDefinition, form: DefinitionForm): Buffer {
  assertValidDefinition(def);
  switch (form) {
    case 'binary':
      return encodeBinary(def);
    case 'json':
      return Buffer.from(writeJson(def));
    case 'template':
      return Buffer.from(writeTemplate(def));
  }
}
