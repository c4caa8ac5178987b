import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { test } from 'node:test';
import { explainKvmError, kvmStatus } from '../../src/runtime/kvm.js';
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

test('kvmStatus agrees with access(2) on /dev/kvm, and a create failure then names KVM', () => {
  let usable = true;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    usable = false;
  }
  const s = kvmStatus();
  assert.equal(s.usable, usable);
  const e = createError('KVM_CREATE_VM: something', ['/x/f.elf']);
  if (usable) assert.equal(e.code, 'INTERNAL');
  else {
    assert.equal(e.code, 'KVM_UNAVAILABLE');
    assert.equal(e.message, s.message);
  }
});
