/**
 * KVM availability for tests. A test that needs KVM skips only when
 * /dev/kvm is absent and ATARU_REQUIRE_KVM is unset; CI sets
 * ATARU_REQUIRE_KVM=1, so there a missing /dev/kvm fails instead of skipping.
 * test/run.ts sends every file that calls kvmOptions() to where KVM is.
 */
import { kvmStatus } from '../../src/runtime/kvm.js';

export const hasKvm = kvmStatus().usable;
export const kvmRequired = !!process.env.ATARU_REQUIRE_KVM;

/** Options for node:test's test()/describe(): { skip } when KVM tests may be skipped. */
export function kvmOptions(): { skip?: string } {
  if (hasKvm) return {};
  if (kvmRequired) throw new Error('ATARU_REQUIRE_KVM is set but /dev/kvm is not usable');
  return { skip: '/dev/kvm is not available' };
}

/**
 * For load tests hit by the known kvm_amd bug (docs/testing.md, "Known
 * problems": one request in ~10^4 ends in a triple fault in the emulated KVM
 * machine): `todo` there only, so the test still runs and reports; everywhere
 * else it must pass.
 */
export function knownKvmAmdLoadBug(): { todo?: string } {
  return process.env.ATARU_IN_VM ? { todo: 'known bug: intermittent triple fault under load on kvm_amd (docs/testing.md)' } : {};
}

/**
 * `ataru up --watch` in the emulated KVM machine (docs/testing.md, "Known
 * problems"): its server stops answering mid-test there (ECONNRESET or
 * ECONNREFUSED, three runs of three on 2026-12-03), never on kvm_pvm. `todo`
 * there only: the test still runs and prints its failure.
 */
export function knownUpInVmProblem(): { todo?: string } {
  return process.env.ATARU_IN_VM ? { todo: 'known problem: ataru up --watch loses its server in the emulated KVM machine (docs/testing.md)' } : {};
}
