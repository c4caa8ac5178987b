/** Every peer system, in report order. */
import { ataruKeepSystem, ataruSystem, floorSystem } from './ataru.js';
import { ataruE2eSystem } from './ataru-e2e.js';
import { vmSystem, wasmSystem } from './inproc.js';
import { nativeSystem } from './native.js';
import { qemuState, qemuSystem } from './qemu.js';
import { spawnSystem } from './spawn.js';
import type { PeerSystem } from './types.js';

export const ALL_SYSTEMS: PeerSystem[] = [
  ataruSystem,
  ataruKeepSystem,
  ataruE2eSystem,
  floorSystem,
  nativeSystem,
  spawnSystem,
  vmSystem,
  wasmSystem,
  qemuSystem,
];

/** Labels that depend on what was found at run time. */
export function systemLabels(): Record<string, string> {
  const labels: Record<string, string> = {};
  if (qemuState.accel) {
    labels.qemu = `${qemuSystem.label} (${qemuState.accel === 'kvm' ? 'KVM' : 'TCG, KVM did not boot'})`;
  }
  return labels;
}
