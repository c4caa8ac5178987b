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
    stackSize: 0, // the core's default (ATARU_STACK_DEFAULT)
    vcpus: def.vcpus,
    timeoutUs: Math.round(def.timeout_ms * 1000),
    keepState: def.state === 'keep',
  };
  return { spec, nodeNames };
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

/** Why the core refused to create an instance (ATARU_CREATE_ERROR_LIST). */
type CreateErrorCode = 'BAD_SPEC' | 'BAD_ELF' | 'KVM_UNAVAILABLE' | 'NO_RESOURCES' | 'INIT_FAILED' | 'BAD_TEMPLATE' | 'INTERNAL';

/**
 * The error for a failed ataru_instance_create, classified by the code the
 * core gives it (never by reading the message).
 */
export function createError(err: unknown, resolved: Pick<ResolvedSpec, 'spec'>): AtaruError {
  const e = err as Error & { code?: CreateErrorCode; file?: string; node?: number };
  const message = e.message;
  switch (e.code) {
    case 'KVM_UNAVAILABLE':
      return new AtaruError('KVM_UNAVAILABLE', kvmStatus().usable ? message : kvmStatus().message);
    case 'BAD_ELF': {
      const node = resolved.spec.nodes.findIndex((n) => n.path === e.file);
      return new AtaruError('BAD_ELF', message, { ...(e.file ? { file: e.file } : {}), ...(node >= 0 ? { node } : {}) });
    }
    case 'BAD_SPEC':
      return new AtaruError('BAD_DEFINITION', message);
    case 'INIT_FAILED':
      return new AtaruError('INIT_FAILED', message, e.node !== undefined ? { node: e.node } : undefined);
    case 'NO_RESOURCES':
      return new AtaruError('BUSY', `out of resources creating an instance: ${message}`);
    default:
      return new AtaruError('INTERNAL', message);
  }
}
