/**
 * The VMM core's own C smoke programs (native/test/smoke_*.c), run through
 * `make -C native check`: DAGs, every fault kind, timeouts, reset, keep_state,
 * workers, stress — exercised without Node in between.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kvmOptions } from '../helpers/kvm.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const programs = ['smoke_single', 'smoke_dag', 'smoke_faults', 'smoke_parallel', 'smoke_reset', 'smoke_stress'];

test('the core C smoke programs all pass', { ...kvmOptions(), timeout: 960_000 }, () => {
  // Built first (`make smoke`), then each program run on its own. In the
  // emulated KVM machine the host has built them already (test/run.ts):
  // compiling there (gcc under QEMU TCG) takes many minutes, and make may
  // judge the shared files' times differently.
  const built = programs.every((p) => existsSync(join(root, 'native', 'build', p)));
  if (!(process.env.ATARU_IN_VM && built)) {
    const m = spawnSync('make', ['-s', '-C', 'native', 'smoke'], { cwd: root, encoding: 'utf8', timeout: 900_000 });
    assert.equal(m.status, 0, `make -C native smoke failed:\n${m.stdout}\n${m.stderr}`);
  }
  for (const program of programs) {
    // generous: a loaded or emulated machine is slow, and speed is bench/'s job
    const r = spawnSync(join('build', program), [], { cwd: join(root, 'native'), encoding: 'utf8', timeout: 300_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, `${program} failed (${r.signal ?? r.status}):\n${out}`);
    assert.match(out, new RegExp(`${program}: ok`), `${program} did not report ok:\n${out}`);
  }
});
