/**
 * Ataru itself, through its TypeScript API (src/runtime): a pool of VMs per
 * app, one request = one addon call = one KVM_RUN. Rows: clean state per
 * request (the default), state: keep, and the bare KVM exit floor.
 * The runtime is imported lazily so that the other peers run without a
 * built addon.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { resolveFunctionPath } from '../../../src/app/resolve.js';
import type { AppDefinition, StateMode } from '../../../src/app/model.js';
import type { App } from '../../../src/runtime/app.js';
import { answerOf, expectOutput } from '../answer.js';
import type { BuildResult } from '../build.js';
import { repoRoot } from '../paths.js';
import { hasKvm } from '../../../test/helpers/kvm.js';
import type { Workload } from '../workloads.js';
import { latencyLoop, nowNs, throughputLoop, usSince } from './loops.js';
import type { Cell, PeerSystem } from './types.js';

type Runtime = typeof import('../../../src/runtime/index.js');
let runtime: Promise<Runtime | string> | undefined;

/** The runtime module with a loadable addon, or why not. */
export function ataruRuntime(): Promise<Runtime | string> {
  runtime ??= (async () => {
    if (!hasKvm) return '/dev/kvm is not usable';
    try {
      const rt = await import('../../../src/runtime/index.js');
      const { native } = await import('../../../src/runtime/native.js');
      native(); // throws a clear message when the addon is not built
      return rt;
    } catch (e) {
      return `the Ataru runtime is not available: ${(e as Error).message.split('\n')[0]}`;
    }
  })();
  return runtime;
}

export async function loadPeerApp(w: Workload, state: StateMode, instances: number): Promise<App> {
  const rt = await ataruRuntime();
  if (typeof rt === 'string') throw new Error(rt);
  const def: AppDefinition = { ...w.def, state, instances };
  // The workloads name their functions by absolute path.
  return rt.loadApp(def, { resolve: (ref) => resolveFunctionPath(ref, repoRoot) });
}

async function unavailable(_w: Workload, b: BuildResult): Promise<string | undefined> {
  if (b.errors.ataru) return b.errors.ataru;
  const rt = await ataruRuntime();
  return typeof rt === 'string' ? rt : undefined;
}

const exec = promisify(execFile);
const probeScript = fileURLToPath(new URL('./ataru-memory.ts', import.meta.url));

/** RSS growth per VM in a fresh process (see ataru-memory.ts). */
async function memoryProbe(w: Workload, state: StateMode): Promise<number> {
  const args = ['--import', 'tsx', '--expose-gc', probeScript, w.id, state, '64'];
  const { stdout } = await exec(process.execPath, args, { cwd: repoRoot, maxBuffer: 1 << 20 });
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { bytesPerInstance: number }).bytesPerInstance;
}

/** Pool of 2: concurrency 2 gets two VMs, as two cores allow. */
const POOL = 2;

const ataruLabel = 'Ataru, clean state per request';
const ataruKeepLabel = 'Ataru, state: keep';

function poolSystem(state: StateMode): PeerSystem {
  return {
    id: state === 'reset' ? 'ataru' : 'ataru-keep',
    label: state === 'reset' ? ataruLabel : ataruKeepLabel,
    note:
      state === 'reset'
        ? `loadApp() with a pool of ${POOL} VMs, app.run() per request, memory reset after each; latency in JS around app.run(); cold = loadApp (1 VM) -> first reply; memory = growth of RSS less the V8 heap per VM, for a pool of 64 that each served a request, in a fresh process`
        : 'as above with state: keep (no reset between requests, as the original)',
    targets: ['ataru'],
    unavailable,
    async open(w: Workload): Promise<Cell> {
      const app = await loadPeerApp(w, state, POOL);
      const label = state === 'reset' ? ataruLabel : ataruKeepLabel;
      const once = async () => {
        const r = await app.run(w.input);
        expectOutput(label, w, r.output);
        return r;
      };
      return {
        answer: async () => answerOf((await once()).output),
        latency: (n, ms) => latencyLoop(once, n, ms),
        throughput: (c, ms) => throughputLoop(once, c, ms),
        async cold() {
          const t0 = nowNs();
          const fresh = await loadPeerApp(w, state, 1);
          try {
            await fresh.run(w.input);
            return usSince(t0);
          } finally {
            await fresh.close();
          }
        },
        memory: () => memoryProbe(w, state),
        close: () => app.close(),
      };
    },
  };
}

export const ataruSystem = poolSystem('reset');
export const ataruKeepSystem = poolSystem('keep');

/** Exits per floor measurement (the addon reports their median). */
const FLOOR_EXITS = 2000;

export const floorSystem: PeerSystem = {
  id: 'floor',
  label: 'floor: one bare KVM exit',
  note: `App.exitFloor(${FLOOR_EXITS}): median of bare guest exit round trips (out -> host -> guest) measured in C, no work, no JS; one value per run, so no p99`,
  targets: ['ataru'],
  unavailable,
  async open(w: Workload): Promise<Cell> {
    const app = await loadPeerApp(w, 'reset', 1);
    return {
      answer: async () => answerOf((await app.run(w.input)).output),
      async latency() {
        const t0 = nowNs();
        const ns = await app.exitFloor(FLOOR_EXITS);
        return { us: [ns / 1000], elapsedMs: usSince(t0) / 1000, mediansOnly: true };
      },
      close: () => app.close(),
    };
  },
};
