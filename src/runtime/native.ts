/**
 * The addon (native/addon.cc), typed. Loaded on first use so that modules
 * importing the runtime (CLI help, definition checks) work without a build.
 */
import { createRequire } from 'node:module';
import { AtaruError } from '../errors.js';
import { addonPath } from './paths.js';

/** An opaque native instance (a VM holding a whole app). */
export type NativeHandle = { readonly __brand: 'ataru.instance' };

export interface NativeNodeSpec {
  name: string;
  path: string;
  inpOff: number;
  outOff: number;
  timeoutUs: number;
}

export interface NativeAppSpec {
  runtimePath: string;
  sharedPath?: string;
  nodes: NativeNodeSpec[];
  /** (from, to) pairs, flattened. */
  edges: number[];
  shmSize: number;
  /** 0: the core's default. */
  stackSize: number;
  vcpus: number;
  timeoutUs: number;
  keepState: boolean;
  /** Called on the main thread for each function log line. Must not throw. */
  onLog?: (node: number, message: string | undefined, dropped: number) => void;
}

export interface NativeResult {
  output: Buffer;
  sinkLengths: number[];
  nodeRet: number[];
  nodeNs: number[];
  dagNs: number;
  runNs: number;
  status: number;
  failedNode: number;
  workersUsed: number;
  /** Refused before anything ran (the instance was destroyed or out of service): safe to retry elsewhere. */
  notRun: boolean;
  message: string;
}

export type ElfKind = 'function' | 'shared' | 'library' | 'runtime';

export interface NativeConstants {
  /** Status name -> number, from ATARU_STATUS_LIST. */
  status: Record<string, number>;
  statusText: Record<string, string>;
  nodeState: Record<'WAITING' | 'RUNNING' | 'DONE' | 'FAILED' | 'SKIPPED', number>;
  layout: Record<string, number> & { NODE_ID_DEFAULT: bigint; NO_NODE: number; SHM_DEFAULT: number; SHM_MAX: number };
  /** The core's test hooks (ataru_core.h). */
  testHooks: { BREAK_IDT: number; MAP_MMIO: number; FAIL_RESET: number; MMIO_GVA: number };
  /** Create error code -> text, from ATARU_CREATE_ERROR_LIST. */
  createErrorText: Record<string, string>;
  /** The core's per-instance log budget (ATARU_LOG_RATE/BURST). */
  log: { rate: number; burst: number };
  /** Where run() results are in resultNumbers (see makeResult). */
  resultLayout: Record<
    'STATUS' | 'FAILED_NODE' | 'WORKERS_USED' | 'NOT_RUN' | 'DAG_NS' | 'RUN_NS' | 'NUM_NODES' | 'NUM_SINKS' | 'OUTPUT_LEN' | 'SINK_LENGTHS' | 'NODE_RET' | 'NODE_NS',
    number
  >;
}

export interface NativeAddon {
  createInstance(spec: NativeAppSpec): Promise<NativeHandle>;
  run(h: NativeHandle, input: Buffer, nodeIdOverride?: bigint): Promise<NativeResult>;
  destroy(h: NativeHandle): Promise<void>;
  memory(h: NativeHandle): { privateBytes: number; pssBytes: number };
  coldStartNs(h: NativeHandle): number;
  exitFloor(h: NativeHandle, n: number): Promise<number>;
  validateElf(buf: Uint8Array, kind: ElfKind): string | null;
  /** The DT_NEEDED names of a valid ELF in file order, or what is wrong with it. */
  elfNeeded(buf: Uint8Array, kind: Exclude<ElfKind, 'runtime'>): string[] | string;
  /** TSC ticks per second of the guest clock (calibrated once if no VM exists yet). */
  tscHz(): number;
  /** `ataru doctor`: /dev/kvm's API version and capabilities (native/probe.c). */
  kvmProbe(): import('./kvm.js').KvmProbe;
  /** Tests only: a core test hook, right after createInstance. */
  testHook(h: NativeHandle, flags: number): boolean;
  constants: NativeConstants;
}

/** The addon as loaded: run() results come from a factory registered here. */
interface RawAddon extends NativeAddon {
  resultNumbers: Float64Array;
  resultBytes: Buffer;
  setResultFactory(fn: (output: Buffer | undefined, message: string | undefined) => NativeResult): void;
}

/**
 * Builds each run() result from the numbers (and small outputs) the addon
 * left in its scratch arrays just before calling this, on the main thread:
 * an object literal here is much cheaper than building it through N-API.
 */
function resultFactory(raw: RawAddon): (output: Buffer | undefined, message: string | undefined) => NativeResult {
  const nums = raw.resultNumbers;
  const bytes = raw.resultBytes;
  const L = raw.constants.resultLayout;
  return (output, message) => {
    let out = output;
    if (!out) {
      const len = nums[L.OUTPUT_LEN];
      out = Buffer.allocUnsafe(len);
      if (len) bytes.copy(out, 0, 0, len);
    }
    const n = nums[L.NUM_NODES];
    const nodeRet = new Array<number>(n);
    const nodeNs = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      nodeRet[k] = nums[L.NODE_RET + k];
      nodeNs[k] = nums[L.NODE_NS + k];
    }
    const sinks = nums[L.NUM_SINKS];
    const sinkLengths = new Array<number>(sinks);
    for (let i = 0; i < sinks; i++) sinkLengths[i] = nums[L.SINK_LENGTHS + i];
    return {
      output: out,
      sinkLengths,
      nodeRet,
      nodeNs,
      dagNs: nums[L.DAG_NS],
      runNs: nums[L.RUN_NS],
      status: nums[L.STATUS],
      failedNode: nums[L.FAILED_NODE],
      workersUsed: nums[L.WORKERS_USED],
      notRun: nums[L.NOT_RUN] !== 0,
      message: message ?? '',
    };
  };
}

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (!addon) {
    try {
      const raw = createRequire(import.meta.url)(addonPath) as RawAddon;
      raw.setResultFactory(resultFactory(raw));
      addon = raw;
    } catch (err) {
      throw new AtaruError(
        'INTERNAL',
        `cannot load the native addon ${addonPath} (run \`npm run build:native\`): ${(err as Error).message}`,
      );
    }
  }
  return addon;
}
