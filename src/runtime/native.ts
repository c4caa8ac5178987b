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
  stackSize?: number;
  vcpus: number;
  timeoutUs: number;
  keepState: boolean;
  /** Called on the main thread for each function log line. Must not throw. */
  onLog?: (node: number, message: string) => void;
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
  testHooks: { BREAK_IDT: number; MAP_MMIO: number; MMIO_GVA: number };
}

export interface NativeAddon {
  createInstance(spec: NativeAppSpec): Promise<NativeHandle>;
  run(h: NativeHandle, input: Buffer, nodeIdOverride?: bigint): Promise<NativeResult>;
  destroy(h: NativeHandle): Promise<void>;
  memory(h: NativeHandle): { privateBytes: number; pssBytes: number };
  coldStartNs(h: NativeHandle): number;
  exitFloor(h: NativeHandle, n: number): Promise<number>;
  validateElf(buf: Uint8Array, kind: ElfKind): string | null;
  /** Tests only: a core test hook, right after createInstance. */
  testHook(h: NativeHandle, flags: number): boolean;
  constants: NativeConstants;
}

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
    } catch (err) {
      throw new AtaruError(
        'INTERNAL',
        `cannot load the native addon ${addonPath} (run \`npm run build:native\`): ${(err as Error).message}`,
      );
    }
  }
  return addon;
}
