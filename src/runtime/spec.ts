/**
 * AppDefinition -> the core's ataru_app_spec (as the addon takes it), and
 * the checks that give loader problems their BAD_ELF code before a VM is
 * made: each binary is read and validated once per load, not per instance
 * (and not again while it is unchanged).
 */
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import type { AppDefinition } from '../app/model.js';
import { kvmStatus } from './kvm.js';
import { AtaruError } from '../errors.js';
import { native, type ElfKind, type NativeAppSpec } from './native.js';
import { runtimeElfPath } from './paths.js';
import type { LoadOptions } from './types.js';

export interface ResolvedSpec {
  spec: NativeAppSpec;
  /** Function name of each node, for error locations. */
  nodeNames: string[];
  /** Every ELF path the core will load (to recognise loader messages). */
  files: string[];
}

export function buildSpec(def: AppDefinition, opts: LoadOptions): ResolvedSpec {
  const nodeNames = def.nodes.map((n) => n.function.name);
  const nodes = def.nodes.map((n, k) => {
    const path = resolveRef(opts, n.function, { node: k, functionName: n.function.name });
    checkElf(path, 'function', { node: k, functionName: n.function.name });
    return {
      name: n.function.name,
      path,
      inpOff: n.inp_off,
      outOff: n.out_off,
      timeoutUs: n.timeout_ms !== undefined ? Math.round(n.timeout_ms * 1000) : 0,
    };
  });
  let sharedPath: string | undefined;
  if (def.shared) {
    sharedPath = resolveRef(opts, def.shared, { field: 'shared', functionName: def.shared.name });
    checkElf(sharedPath, 'shared', { field: 'shared', functionName: def.shared.name });
  }
  try {
    accessSync(runtimeElfPath, fsConstants.R_OK);
  } catch {
    throw new AtaruError('INTERNAL', `the in-VM runtime ${runtimeElfPath} is missing (run \`npm run build:guest\`)`);
  }
  const spec: NativeAppSpec = {
    runtimePath: runtimeElfPath,
    sharedPath,
    nodes,
    edges: def.edges.flatMap((e) => [e.from, e.to]),
    shmSize: def.shm_size,
    vcpus: def.vcpus,
    timeoutUs: Math.round(def.timeout_ms * 1000),
    keepState: def.state === 'keep',
  };
  const files = [...(sharedPath ? [sharedPath] : []), ...nodes.map((n) => n.path)];
  return { spec, nodeNames, files };
}

function resolveRef(
  opts: LoadOptions,
  ref: AppDefinition['nodes'][number]['function'],
  where: { node?: number; field?: string; functionName: string },
): string {
  try {
    return opts.resolve(ref);
  } catch (err) {
    if (err instanceof AtaruError) throw err;
    throw new AtaruError('BAD_DEFINITION', (err as Error).message, where);
  }
}

/**
 * Files that passed checkElf, by path: the kind and stat identity they
 * passed with. A cold start reloads the same files; a stat is cheaper than
 * reading and validating again (tens of µs of a ~1 ms budget).
 */
const validated = new Map<string, string>();
const VALIDATED_MAX = 1024;

function checkElf(path: string, kind: ElfKind, where: { node?: number; field?: string; functionName: string }): void {
  let buf: Buffer;
  let key: string;
  try {
    const st = statSync(path, { bigint: true });
    key = `${kind} ${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`;
    if (validated.get(path) === key) return;
    buf = readFileSync(path);
  } catch (err) {
    throw new AtaruError('BAD_ELF', `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      ...where,
      file: path,
    });
  }
  const problem = native().validateElf(buf, kind);
  if (problem !== null) throw new AtaruError('BAD_ELF', problem, { ...where, file: path });
  if (validated.size >= VALIDATED_MAX) validated.clear();
  validated.set(path, key);
}

/** The error for a failed ataru_instance_create. */
export function createError(message: string, files: readonly string[]): AtaruError {
  const kvm = kvmStatus();
  if (!kvm.usable) return new AtaruError('KVM_UNAVAILABLE', kvm.message);
  // The loader names the file in every rejection (native/loader.h).
  const file = files.find((f) => message.includes(f));
  return file ? new AtaruError('BAD_ELF', message, { file }) : new AtaruError('INTERNAL', message);
}
