/**
 * Loop sizes for machines of different speed: one documented switch,
 * ATARU_TEST_SCALE (docs/testing.md).
 *
 *   unset or "full"  the counts as written (a native /dev/kvm)
 *   "emulated"       the counts for the emulated KVM machine (scripts/rig/vm.sh
 *                    sets it): everything there runs ~30x slower
 *   a number         a factor, e.g. 0.1
 *
 * Every call names the smallest count that still proves what the test claims
 * (a leak test still needs enough cycles to show a leak), so lowering the
 * scale never turns a test into one that proves nothing.
 */
const EMULATED = 0.04;

function factor(): number {
  const v = process.env.ATARU_TEST_SCALE;
  if (v === undefined || v === '' || v === 'full') return 1;
  if (v === 'emulated') return EMULATED;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new Error(`ATARU_TEST_SCALE must be "full", "emulated" or a number in (0, 1], not "${v}"`);
  return n;
}

export const testScale = factor();

/** `full` scaled to this machine, never below `min`. */
export function scaled(full: number, min: number): number {
  return Math.max(min, Math.round(full * testScale));
}

/**
 * A test's time limit on this machine: `ms` as written, five times that in
 * the emulated KVM machine, where a child node process alone takes seconds
 * to start. A limit only ends a hung test; no test asserts on time.
 */
export function scaledTimeout(ms: number): number {
  return testScale < 1 ? ms * 5 : ms;
}
