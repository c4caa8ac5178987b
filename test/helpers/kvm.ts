/**
 * KVM availability for tests. A test that needs KVM skips only when
 * /dev/kvm is absent and ATARU_REQUIRE_KVM is unset; CI sets
 * ATARU_REQUIRE_KVM=1, so there a missing /dev/kvm fails instead of skipping.
 */
import { accessSync, constants } from 'node:fs';

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export const hasKvm = kvmUsable();
export const kvmRequired = !!process.env.ATARU_REQUIRE_KVM;

/** Options for node:test's test()/describe(): { skip } when KVM tests may be skipped. */
export function kvmOptions(): { skip?: string } {
  if (hasKvm) return {};
  if (kvmRequired) throw new Error('ATARU_REQUIRE_KVM is set but /dev/kvm is not usable');
  return { skip: '/dev/kvm is not available' };
}
