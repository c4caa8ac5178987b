/**
 * The C conformance driver (native/test/driver.c) against the core on this
 * machine's /dev/kvm (kvm_pvm). test/rig/hardware-kvm.test.ts runs the same
 * binary in the hardware-style rig and requires the same results.
 */
import { strict as assert } from 'node:assert';
import { before, describe, test } from 'node:test';
import { kvmOptions } from '../helpers/kvm.js';
import {
  buildDriver,
  driverArgs,
  driverCases,
  driverPath,
  parseDriver,
  parseProbe,
  probePath,
  runHere,
} from './rig.js';

describe("KVM core on this machine's /dev/kvm", kvmOptions(), () => {
  before(() => buildDriver());

  test('every driver case passes', async (t) => {
    const cases = driverCases();
    assert.ok(cases.length >= 20, `driver lists ${cases.length} cases`);
    const run = runHere(driverPath, driverArgs, 120_000);
    const report = parseDriver(run.output);
    for (const name of cases) {
      await t.test(name, () => {
        const r = report.results.get(name);
        assert.ok(r, `no result for ${name}; driver output:\n${run.output}`);
        assert.ok(r.ok, r.why);
      });
    }
    assert.ok(report.summary, `no closing line; output:\n${run.output}`);
    assert.equal(report.failed, 0, run.output);
    assert.equal(report.passed, cases.length);
    assert.equal(run.status, 0, run.output);
  });

  // What the core relies on and docs/platform-differences.md states about
  // kvm_pvm, checked with a core-independent guest.
  test('kvm_pvm behaves as documented (kvm_probe)', () => {
    const run = runHere(probePath, [], 30_000);
    assert.equal(run.status, 0, run.output);
    const p = parseProbe(run.output);
    // RIP at an I/O exit is already after the `out`.
    assert.match(p.get('out_iopl3') ?? '', /^exit IO port 0xa0 rip 0x10002 /);
    // IOPL is ignored: the bitmap alone decides, a denied port is #GP.
    assert.match(p.get('out_denied_port_iopl3') ?? '', /^exit SHUTDOWN .* vec 13 /);
    // cli at CPL3 is #GP even with IOPL=3.
    assert.match(p.get('cli_iopl3') ?? '', /^exit SHUTDOWN .* vec 13 /);
    // A triple fault keeps RIP and CR2.
    assert.match(p.get('nullread_no_idt') ?? '', /^exit SHUTDOWN rip 0x10000 cs 0x23 cr2 0x8 /);
    // AVX runs whatever CR4.OSXSAVE/XCR0 say; with them set it runs too.
    assert.match(p.get('avx_no_osxsave') ?? '', /^exit IO port 0xa0 /);
    assert.match(p.get('avx_osxsave') ?? '', /^exit IO port 0xa0 /);
    // A fault through a CPL0 IDT handler dirties only the pages written (the stack).
    assert.equal(p.get('idt_fault_dirty'), 'dirty pages: 0xb000');
    // The guest reads the raw host TSC.
    assert.equal(p.get('tsc_offset_mticks'), '0');
  });
});
