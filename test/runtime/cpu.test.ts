/**
 * What a function can learn of the CPU (docs/cpu.md): the guest's CPUID is
 * KVM's table filtered by the host (native/cpuid.c), and UMIP, where the CPU
 * offers it, makes the descriptor-table instructions fault at CPL3.
 * cpu.elf (test/runtime/fixtures/cpu.c) runs CPUID and those instructions.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { AtaruError } from '../../src/errors.js';
import { kvmProbe } from '../../src/runtime/kvm.js';
import { Sandbox } from '../../src/runtime/sandbox.js';
import { kvmOptions } from '../helpers/kvm.js';
import { cpuElf } from './helpers.js';

// kvm_pvm runs guest CPL3 code on the host's CPU with the host's CR4, so
// neither the CPUID filter nor CR4 of the guest applies there (docs/cpu.md).
const pvm = existsSync('/sys/module/kvm_pvm');

async function cpuid(sb: Sandbox, leaves: number[]): Promise<Map<number, number[]>> {
  const input = Buffer.alloc(4 + 4 * leaves.length);
  leaves.forEach((l, i) => input.writeUInt32LE(l, 4 + 4 * i));
  const out = (await sb.call(input)).output;
  assert.equal(out.length, 16 * leaves.length);
  return new Map(leaves.map((l, i) => [l, [0, 1, 2, 3].map((r) => out.readUInt32LE(16 * i + 4 * r))]));
}

function brandOf(regs: Map<number, number[]>): string {
  const b = Buffer.alloc(48);
  for (let leaf = 0; leaf < 3; leaf++) regs.get(0x80000002 + leaf)!.forEach((v, r) => b.writeUInt32LE(v, 16 * leaf + 4 * r));
  return b.toString('latin1').replace(/\0+$/, '').trim();
}

function hostBrand(): string {
  const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? m[1].trim() : '';
}

describe('what a function sees of the CPU', kvmOptions(), () => {
  test('CPUID: no hypervisor signature, no host model, no APIC ID', async () => {
    const cpu = kvmProbe().cpu;
    assert.ok(cpu, 'the probe reads the guest CPUID table');
    const sb = await Sandbox.load(cpuElf());
    try {
      const regs = await cpuid(sb, [0x40000000, 1, 0x80000002, 0x80000003, 0x80000004]);
      const [, hb, hc, hd] = regs.get(0x40000000)!;
      const signature = Buffer.alloc(12);
      [hb, hc, hd].forEach((v, i) => signature.writeUInt32LE(v, 4 * i));
      const brand = brandOf(regs);
      if (pvm) {
        assert.ok(brand === cpu.brand || brand === hostBrand(), `brand ${JSON.stringify(brand)}`);
      } else {
        assert.equal(brand, cpu.brand, 'the brand string is the filtered one');
        assert.notEqual(brand, hostBrand());
        assert.doesNotMatch(signature.toString('latin1'), /KVMKVMKVM/, 'the hypervisor leaves are hidden');
        assert.equal(regs.get(1)![1] >>> 24, 0, 'initial APIC ID');
        assert.equal(regs.get(1)![2] & (1 << 5), 0, 'no VMX');
      }
      // Features a function needs to pick its code are still the hardware's.
      assert.equal((regs.get(1)![3] >>> 25) & 1, 1, 'SSE');
      assert.equal((regs.get(1)![3] >>> 26) & 1, 1, 'SSE2');
    } finally {
      await sb.close();
    }
  });

  test('UMIP: the descriptor-table instructions fault where the CPU offers it', async () => {
    const cpu = kvmProbe().cpu!;
    const sb = await Sandbox.load(cpuElf());
    try {
      for (const [mode, name] of [[1, 'SGDT'], [2, 'SIDT'], [3, 'SMSW'], [4, 'STR'], [5, 'SLDT']] as const) {
        const result = sb.call(Buffer.from([mode])).then(
          (r) => ({ ok: true as const, output: r.output }),
          (e: unknown) => ({ ok: false as const, error: e }),
        );
        const r = await result;
        if (!pvm && cpu.umip) {
          assert.equal(r.ok, false, `${name} must fault under UMIP`);
          assert.ok(!r.ok && r.error instanceof AtaruError && r.error.code === 'FAULT', `${name}: ${String(!r.ok && r.error)}`);
          assert.match((r as { error: Error }).error.message, /general protection/, name);
        } else if (!pvm) {
          assert.equal(r.ok, true, `${name} runs where UMIP is not offered: ${String(!r.ok && r.error)}`);
        } else {
          assert.ok(r.ok || (r.error instanceof AtaruError && r.error.code === 'FAULT'), `${name}: ${String(!r.ok && r.error)}`);
        }
        // Whatever the instruction did, the instance still serves requests.
        const after = await cpuid(sb, [1]);
        assert.equal(after.size, 1);
      }
    } finally {
      await sb.close();
    }
  });
});
