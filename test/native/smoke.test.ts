/**
 * The VMM core's own C smoke programs (native/test/smoke_*.c), run through
 * `make -C native check`: DAGs, every fault kind, timeouts, reset, keep_state,
 * workers, stress — exercised without Node in between.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kvmOptions } from '../helpers/kvm.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the core C smoke programs all pass', { ...kvmOptions(), timeout: 960_000 }, () => {
  const r = spawnSync('make', ['-s', '-C', 'native', 'check'], { cwd: root, encoding: 'utf8', timeout: 900_000 }); // generous: a loaded or emulated machine is slow, and speed is bench/'s job
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `make -C native check failed:\n${out}`);
  for (const program of ['smoke_single', 'smoke_dag', 'smoke_faults', 'smoke_parallel', 'smoke_stress']) {
    assert.match(out, new RegExp(`${program}: ok`), `${program} did not report ok:\n${out}`);
  }
});
