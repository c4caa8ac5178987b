/**
 * Numbers of common/ataru_abi.h read from the header itself, so a test can
 * check a value without the addon (which exposes the same numbers at run time).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/runtime/paths.js';

let header: string | undefined;

/** The literal value of `#define ATARU_<name>` (hex or decimal). */
export function abiConstant(name: string): bigint {
  header ??= readFileSync(join(packageRoot, 'common', 'ataru_abi.h'), 'utf8');
  const m = new RegExp(`^#define ATARU_${name}\\s+(0x[0-9a-fA-F]+|\\d+)u?l*l?\\b`, 'm').exec(header);
  if (!m) throw new Error(`ATARU_${name} is not a literal in ataru_abi.h`);
  return BigInt(m[1]!);
}
