import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { test } from 'node:test';
import { explainKvmError, kvmStatus } from '../../src/runtime/kvm.js';
import type { NativeAppSpec } from '../../src/runtime/native.js';
import { createError } from '../../src/runtime/spec.js';

test('a missing /dev/kvm and a closed one get different messages, each saying what to do', () => {
  const missing = explainKvmError('ENOENT');
  assert.match(missing, /does not exist \(ENOENT\)/);
  assert.match(missing, /kvm_intel or kvm_amd/);
  assert.match(missing, /nested virtualisation/);
  assert.match(missing, /ataru doctor/);
  const closed = explainKvmError('EACCES');
  assert.match(closed, /not read-write for this user \(EACCES\)/);
  assert.match(closed, /kvm group/);
  for (const code of ['ENOENT', 'EACCES', 'EIO']) assert.match(explainKvmError(code), /`ataru doctor`/, code);
  assert.notEqual(missing, closed);
});

test('kvmStatus agrees with access(2) on /dev/kvm; a KVM create failure then explains it', () => {
  let usable = true;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    usable = false;
  }
  const s = kvmStatus();
  assert.equal(s.usable, usable);
  const raw = Object.assign(new Error('/dev/kvm: No such file or directory'), { code: 'KVM_UNAVAILABLE' });
  const e = createError(raw, { spec: specWith(['/x/f.elf']) });
  assert.equal(e.code, 'KVM_UNAVAILABLE');
  assert.equal(e.message, usable ? raw.message : s.message);
});

test('create errors are classified by the code the core gives, not by their message', () => {
  const spec = specWith(['/x/a.elf', '/x/b.elf']);
  const elf = createError(Object.assign(new Error('function /x/b.elf: bad magic'), { code: 'BAD_ELF', file: '/x/b.elf' }), { spec });
  assert.equal(elf.code, 'BAD_ELF');
  assert.equal(elf.location?.file, '/x/b.elf');
  assert.equal(elf.location?.node, 1);
  // A message that names a file but carries another code is not a BAD_ELF.
  const internal = createError(Object.assign(new Error('KVM_SET_USER_MEMORY_REGION: /x/a.elf'), { code: 'INTERNAL' }), { spec });
  assert.equal(internal.code, 'INTERNAL');
  const full = createError(Object.assign(new Error('KVM_CREATE_VCPU 0: Too many open files'), { code: 'NO_RESOURCES' }), { spec });
  assert.equal(full.code, 'BUSY');
  assert.match(full.message, /out of resources.*Too many open files/);
  assert.equal(createError(Object.assign(new Error('cycle'), { code: 'BAD_SPEC' }), { spec }).code, 'BAD_DEFINITION');
  assert.equal(createError(new Error('no code at all'), { spec }).code, 'INTERNAL');
});

function specWith(paths: string[]): NativeAppSpec {
  return {
    runtimePath: '/x/runtime.elf',
    nodes: paths.map((path, k) => ({ name: `f${k}`, path, inpOff: 0, outOff: 0, timeoutUs: 0 })),
    edges: [],
    shmSize: 0,
    stackSize: 0,
    vcpus: 1,
    timeoutUs: 0,
    keepState: false,
  };
}
