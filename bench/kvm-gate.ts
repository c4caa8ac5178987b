/**
 * Benchmarks need a real /dev/kvm: without one they say so instead of
 * printing figures. In the project's emulated KVM machine (scripts/rig/vm.sh)
 * they run only when asked for a correctness-only run
 * (ATARU_BENCH_EMULATED=1), and every figure is then marked as meaningless.
 */
import { kvmStatus } from '../src/runtime/kvm.js';

export function kvmGate(what: string): void {
  const kvm = kvmStatus();
  if (!kvm.usable) {
    console.log(`${what}: not run — ${kvm.message}`);
    console.log(
      'Benchmarks need a real /dev/kvm; figures from an emulated KVM say nothing about speed. ' +
        'A correctness-only run in the emulated KVM machine: ATARU_BENCH_EMULATED=1 bash scripts/rig/vm.sh -- npm run ' +
        (what.includes('peers') ? 'bench:peers' : 'bench'),
    );
    process.exit(1);
  }
  if (kvm.emulated) {
    if (!process.env.ATARU_BENCH_EMULATED) {
      console.log(`${what}: not run — this is the emulated KVM machine; set ATARU_BENCH_EMULATED=1 for a correctness-only run`);
      process.exit(1);
    }
    console.log(`${what}: CORRECTNESS-ONLY RUN in the emulated KVM machine — every time below is emulated and means nothing`);
  }
}
