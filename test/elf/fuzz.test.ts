/**
 * Mutation fuzzing of the loader under AddressSanitizer/UBSan: thousands of
 * mutants of valid fixtures go through validation and, when accepted, full
 * loading and linking. The harness aborts on any memory error.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness } from './harness.js';
import { buildFixtures, fixture, helperLibrary, sharedImage } from '../fixtures/functions/fixtures.js';

let fuzz: string;
let dir: string;

before(() => {
  buildFixtures();
  fuzz = harness('elf_fuzz');
  dir = mkdtempSync(join(tmpdir(), 'ataru-fuzz-'));
  copyFileSync(helperLibrary, join(dir, 'libhelper.so')); // mutants of useslib find their library
});
process.on('exit', () => dir && rmSync(dir, { recursive: true, force: true }));

const runs: [string, string, number, string][] = [
  ['a function with a DT_NEEDED library', fixture('useslib'), 2, '0x1234'],
  ['a static function', fixture('counter'), 2, '0x9e3779b9'],
  ['a shared image', sharedImage, 1, '0x5eed'],
];

for (const [what, file, kind, seed] of runs) {
  test(`mutants of ${what} never crash the loader`, () => {
    const r = spawnSync(fuzz, [file, '1500', seed, join(dir, `mutant-${kind}.elf`), String(kind)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = /iterations (\d+) rejected (\d+) loaded (\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    // Both paths were exercised: some mutants rejected, some loaded and linked.
    assert.ok(Number(m[2]) > 0 && Number(m[3]) > 0, r.stdout);
  });
}
