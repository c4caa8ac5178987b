/**
 * The test runner (test/run.ts) and the KVM machine (scripts/rig/vm.sh):
 * counts add up, a hanging file is stopped and named, and a command in the
 * machine sees the checkout, /dev/kvm and its environment, and hands back
 * its output and exit status.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { kvmRequired } from '../helpers/kvm.js';
import { root, setupRig } from './rig.js';

function runner(files: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/run.ts', ...files], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ATARU_TEST_KVM: 'direct', ...env },
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('the summary adds up every file and ends with the plain closing line', () => {
  const r = runner(['test/fixtures/runner/mixed.ts', 'test/fixtures/runner/mixed.ts']);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /^ℹ tests 6$/m);
  assert.match(r.out, /^2 passed, 2 failed, 2 skipped$/m);
  assert.match(r.out, /✖ test\/fixtures\/runner\/mixed\.ts: 1 failed/);
});

test('a file that hangs is stopped after the per-file limit and named', () => {
  const r = runner(['test/fixtures/runner/hangs.ts'], { ATARU_TEST_FILE_TIMEOUT: '3' });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /✖ test\/fixtures\/runner\/hangs\.ts: still running after 3 s; stopped/);
  assert.match(r.out, /✖ test\/fixtures\/runner\/hangs\.ts: timed out after 3 s/);
  assert.match(r.out, /^0 passed, 1 failed, 0 skipped$/m);
});

const rigProblem = setupRig();
describe('the KVM machine (scripts/rig/vm.sh)', rigProblem && !kvmRequired ? { skip: rigProblem } : {}, () => {
  before(() => {
    if (rigProblem) throw new Error(rigProblem);
  });
  const vm = (args: string[], timeoutMs: number) => {
    const r = spawnSync('bash', ['scripts/rig/vm.sh', ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ATARU_VM_MARK: 'passed-in' },
      timeout: timeoutMs,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  test('runs a command of the checkout with /dev/kvm, its environment and exit status', { timeout: 180_000 }, () => {
    const r = vm(['--', 'bash', '-c', 'test -c /dev/kvm && echo kvm-ok; echo "mark=$ATARU_VM_MARK in=$ATARU_IN_VM"; test -f package.json && echo checkout-ok; exit 7'], 170_000);
    assert.equal(r.status, 7, r.out);
    assert.match(r.out, /^kvm-ok$/m);
    assert.match(r.out, /^mark=passed-in in=1$/m);
    assert.match(r.out, /^checkout-ok$/m);
  });

  test('a command past its limit is stopped, with a message naming it', { timeout: 180_000 }, () => {
    const r = vm(['--timeout', '25', '--name', 'the sleepy command', '--', 'sleep', '600'], 170_000);
    assert.equal(r.status, 124, r.out);
    assert.match(r.out, /vm\.sh: the sleepy command did not finish within 25s in the KVM machine/);
  });
});
