/**
 * Is KVM usable here, and if not, why and what to do. One place for the
 * message that `ataru run`, `ataru serve`, a deploy, /healthz and the
 * benchmarks give when /dev/kvm is missing or closed (docs/platform-differences.md).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { native } from './native.js';

/** What KVM_GET_API_VERSION and KVM_CHECK_EXTENSION answer (native/probe.c). */
export interface KvmProbe {
  /** 0 when /dev/kvm opened read-write, else the errno. */
  openErrno: number;
  apiVersion: number;
  apiExpected: number;
  vcpuMmapSize: number;
  caps: { name: string; required: boolean; value: number }[];
  /** What every guest vCPU gets (native/cpuid.c); absent when CPUID could not be read. */
  cpu?: GuestCpu;
}

/** The protections and the CPUID identity the host gives each guest vCPU (docs/cpu.md). */
export interface GuestCpu {
  /** CR4.SMEP: the CPL0 fault stubs can never run user pages. */
  smep: boolean;
  /** CR4.SMAP: CPL0 never reads or writes user pages. */
  smap: boolean;
  /** CR4.UMIP: SGDT, SIDT, SLDT, SMSW and STR fault at CPL3. */
  umip: boolean;
  xsave: boolean;
  xcr0: number;
  /** The brand string the guest's CPUID reports instead of the host's model. */
  brand: string;
}

/** Asks /dev/kvm (through the addon, which must be built) what it offers. */
export function kvmProbe(): KvmProbe {
  return native().kvmProbe();
}

/** Appended to every KVM-unavailable message (run, serve, deploy, HTTP 503). */
export const DOCTOR_HINT = 'Run `ataru doctor` to check this machine.';

export interface KvmStatus {
  usable: boolean;
  /** errno code of opening /dev/kvm read-write (ENOENT, EACCES, ...); absent when usable. */
  code?: string;
  /** One line: what is missing and what to do. */
  message: string;
  /** Inside the project's emulated KVM machine (scripts/rig/vm.sh): timings mean nothing. */
  emulated: boolean;
}

export function kvmStatus(): KvmStatus {
  const emulated = !!process.env.ATARU_IN_VM;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return { usable: true, message: '/dev/kvm is usable', emulated };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    return { usable: false, code, message: explainKvmError(code), emulated };
  }
}

/** The message for an errno code of opening /dev/kvm (exported for tests). */
export function explainKvmError(code: string): string {
  if (code === 'ENOENT') {
    const loaded = existsSync('/sys/module/kvm');
    return (
      '/dev/kvm does not exist (ENOENT): ' +
      (loaded
        ? 'the kvm module is loaded but no vendor module bound: load kvm_intel or kvm_amd, and check that the CPU (or, in a VM, nested virtualisation) offers VT-x/AMD-V'
        : 'load the KVM modules (modprobe kvm_intel or kvm_amd) and enable virtualisation in the BIOS, or nested virtualisation when this machine is itself a VM') +
      `. Without KVM the test suite runs its KVM tests in an emulated KVM machine (docs/testing.md). ${DOCTOR_HINT}`
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return '/dev/kvm exists but is not read-write for this user (EACCES): add the user to the kvm group (usermod -aG kvm $USER, then log in again) or run as root. ' + DOCTOR_HINT;
  }
  return `/dev/kvm cannot be opened (${code}). ${DOCTOR_HINT}`;
}
