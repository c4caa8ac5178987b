/**
 * The original's wire form: the raw bytes of its C struct app_defn_t
 * (x86-64, little-endian), 54,008 bytes, no header. See
 * docs/original-system.md, "Wire struct".
 *
 * The reader accepts only the canonical bytes a C client that zeroed the
 * struct would send: every byte after a string's NUL, the 4 padding bytes,
 * the dag entries after the child list and every exec entry past num_nodes
 * must be 0. That makes encode(decode(x)) == x for every accepted x, and
 * non-zero garbage (usually a client bug or the wrong struct) an error.
 */
import { AtaruError } from '../errors.js';
import type { AppDefinition, ConnType, FunctionRef, NodeDef } from './model.js';
import { DEFAULTS, LIMITS } from './model.js';
import { decodeDagArray, encodeDagArray } from './dag.js';
import { defaultNodeIds } from './ids.js';
import { EXTENSION_KEYS } from './keys.js';
import { type Problem, fieldError, templateField, toError } from './problems.js';
import { validateDefinition } from './validate.js';

/** struct rt_exec_path_name, relative to its entry. */
export const EXEC_LAYOUT = {
  size: 208,
  path: { offset: 0, size: 128 },
  name: { offset: 128, size: 64 },
  inp_off: { offset: 192, size: 8 },
  out_off: { offset: 200, size: 8 },
} as const;

/** Byte offsets and sizes of app_defn_t. */
export const LAYOUT = {
  name: { offset: 0, size: 128 },
  num_nodes: { offset: 128, size: 4 },
  conn_type: { offset: 132, size: 32 },
  conn_port: { offset: 164, size: 4 },
  msg_len: { offset: 168, size: 4 },
  server_ip: { offset: 172, size: 32 },
  result_ip: { offset: 204, size: 32 },
  result_port: { offset: 236, size: 4 },
  pktcnt: { offset: 240, size: 4 },
  dag: { offset: 244, size: 2 * LIMITS.dagArrayLength },
  padding: { offset: 756, size: 4 },
  exec: { offset: 760, size: EXEC_LAYOUT.size * LIMITS.execEntries },
} as const;

/** 54,008: the struct ends with its exec array. */
export const BINARY_SIZE = LAYOUT.exec.offset + LAYOUT.exec.size;

type Int32Field = 'num_nodes' | 'conn_port' | 'msg_len' | 'result_port' | 'pktcnt';
type StringField = 'name' | 'conn_type' | 'server_ip' | 'result_ip';

/** Byte offset of a template-style field name ("exec[3].out_off", "dag[5]", "msg_len"). */
function offsetOfField(field: string): number | undefined {
  const exec = /^exec\[(\d+)\](?:\.(\w+))?$/.exec(field);
  if (exec) {
    const base = LAYOUT.exec.offset + EXEC_LAYOUT.size * Number(exec[1]);
    const sub = exec[2] as 'path' | 'name' | 'inp_off' | 'out_off' | undefined;
    return sub && sub in EXEC_LAYOUT ? base + EXEC_LAYOUT[sub].offset : base;
  }
  const dag = /^dag\[(\d+)\]$/.exec(field);
  if (dag) return LAYOUT.dag.offset + 2 * Number(dag[1]);
  return field in LAYOUT ? LAYOUT[field as keyof typeof LAYOUT].offset : undefined;
}

/** A binary problem: at `offset` under `field` when known, else by the model field. */
type ByteProblem = Problem & { offset?: number; field?: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const hex = (byte: number) => `0x${byte.toString(16).padStart(2, '0')}`;

export function decodeBinary(buf: Buffer, file?: string): AppDefinition {
  const where = file !== undefined ? { file } : {};
  if (buf.length !== BINARY_SIZE) {
    throw new AtaruError('BAD_DEFINITION', `expected ${BINARY_SIZE} bytes, got ${buf.length}`, where);
  }
  const problems: ByteProblem[] = [];
  const badFields = new Set<string>();
  const bad = (field: string, offset: number, message: string) => {
    badFields.add(field);
    problems.push({ field, offset, message });
  };

  const zeroFrom = (start: number, end: number): number | undefined => {
    for (let i = start; i < end; i++) if (buf[i] !== 0) return i;
    return undefined;
  };
  const string = (field: string, offset: number, size: number): string => {
    const nul = buf.indexOf(0, offset);
    if (nul < 0 || nul >= offset + size) {
      bad(field, offset, `unterminated string: no NUL in its ${size} bytes`);
      return '';
    }
    const garbage = zeroFrom(nul + 1, offset + size);
    if (garbage !== undefined) {
      bad(field, garbage, `expected 0 after the string's NUL (byte ${nul}), found ${hex(buf[garbage])}`);
    }
    try {
      return utf8.decode(buf.subarray(offset, nul));
    } catch {
      bad(field, offset, 'expected UTF-8 text');
      return '';
    }
  };
  const top = (field: StringField) => string(field, LAYOUT[field].offset, LAYOUT[field].size);
  const int32 = (field: Int32Field) => buf.readInt32LE(LAYOUT[field].offset);
  const uint64 = (offset: number) => Number(buf.readBigUInt64LE(offset));

  let n: number | undefined = int32('num_nodes');
  if (n < 1 || n > LIMITS.maxNodesBinary) {
    bad('num_nodes', LAYOUT.num_nodes.offset, `expected a node count (1..${LIMITS.maxNodesBinary} in the binary form), found ${n}`);
    n = undefined;
  }

  const paddingByte = zeroFrom(LAYOUT.padding.offset, LAYOUT.padding.offset + LAYOUT.padding.size);
  if (paddingByte !== undefined) bad('padding', paddingByte, `expected 0 (struct padding), found ${hex(buf[paddingByte])}`);

  let edges: AppDefinition['edges'] = [];
  if (n !== undefined) {
    const dag = Array.from({ length: LIMITS.dagArrayLength }, (_, j) => buf.readUInt16LE(LAYOUT.dag.offset + 2 * j));
    const decoded = decodeDagArray(dag, n);
    for (const p of decoded.problems) {
      const field = templateField(p, n)!;
      bad(field, offsetOfField(field)!, p.message);
    }
    const stray = dag.findIndex((v, j) => j >= decoded.used && v !== 0);
    if (!decoded.problems.length && stray >= 0) {
      bad(`dag[${stray}]`, offsetOfField(`dag[${stray}]`)!, `expected 0 after the child list (it ends at dag[${decoded.used - 1}]), found ${dag[stray]}`);
    }
    edges = decoded.edges;
  }

  const entry = (i: number) => {
    const base = LAYOUT.exec.offset + EXEC_LAYOUT.size * i;
    const f = (sub: string) => `exec[${i}].${sub}`;
    return {
      base,
      function: {
        path: string(f('path'), base + EXEC_LAYOUT.path.offset, EXEC_LAYOUT.path.size),
        name: string(f('name'), base + EXEC_LAYOUT.name.offset, EXEC_LAYOUT.name.size),
      } as FunctionRef,
      inp_off: uint64(base + EXEC_LAYOUT.inp_off.offset),
      out_off: uint64(base + EXEC_LAYOUT.out_off.offset),
    };
  };

  let shared: FunctionRef | undefined;
  const exec0 = entry(0);
  for (const sub of ['inp_off', 'out_off'] as const) {
    if (exec0[sub] !== 0) {
      bad(`exec[0].${sub}`, exec0.base + EXEC_LAYOUT[sub].offset, `exec[0] is the shared code image, not a DAG node: its offsets are unused and must be 0, found ${exec0[sub]}`);
    }
  }
  if (exec0.function.name !== '') shared = exec0.function;
  else if (exec0.function.path !== '') bad('exec[0].name', exec0.base + EXEC_LAYOUT.name.offset, 'expected a file name, since exec[0].path is set');

  const nodes: Omit<NodeDef, 'id'>[] = [];
  for (let i = 1; n !== undefined && i < LIMITS.execEntries; i++) {
    if (i <= n) {
      const e = entry(i);
      nodes.push({ function: e.function, inp_off: e.inp_off, out_off: e.out_off });
      continue;
    }
    const base = LAYOUT.exec.offset + EXEC_LAYOUT.size * i;
    const stray = zeroFrom(base, base + EXEC_LAYOUT.size);
    if (stray !== undefined) {
      bad(`exec[${i}]`, stray, `beyond num_nodes ${n}, so its bytes must be 0, found ${hex(buf[stray])}`);
      break;
    }
  }

  const ids = defaultNodeIds(nodes.map((node) => node.function));
  const def: AppDefinition = {
    name: top('name'),
    conn_type: top('conn_type') as ConnType,
    conn_port: int32('conn_port'),
    msg_len: int32('msg_len'),
    server_ip: top('server_ip'),
    result_ip: top('result_ip'),
    result_port: int32('result_port'),
    pktcnt: int32('pktcnt'),
    ...(shared ? { shared } : {}),
    nodes: nodes.map((node, k) => ({ id: ids[k], ...node })),
    edges,
    timeout_ms: DEFAULTS.timeout_ms,
    instances: DEFAULTS.instances,
    min_instances: DEFAULTS.min_instances,
    max_instances: DEFAULTS.max_instances,
    idle_release_ms: DEFAULTS.idle_release_ms,
    vcpus: DEFAULTS.vcpus,
    reply: DEFAULTS.reply,
    state: DEFAULTS.state,
    shm_size: DEFAULTS.shm_size,
    queue_limit: DEFAULTS.queue_limit,
  };

  const numNodes = n ?? 0;
  for (const p of validateDefinition(def)) {
    const field = templateField(p, numNodes);
    if (field !== undefined && badFields.has(field)) continue;
    problems.push(p);
  }
  if (!problems.length) return def;
  const located = problems.map((p) => {
    const field = p.field ?? templateField(p, numNodes);
    const offset = p.offset ?? (field !== undefined ? offsetOfField(field) : undefined);
    return { message: p.message, field, location: { ...where, ...(offset !== undefined ? { offset } : {}) } };
  });
  located.sort((a, b) => (a.location.offset ?? Infinity) - (b.location.offset ?? Infinity));
  throw toError(located);
}

/** Why a valid definition doesn't fit the wire form, as problems. */
function binaryProblems(def: AppDefinition): Problem[] {
  const problems: Problem[] = [];
  const n = def.nodes.length;
  if (n > LIMITS.maxNodesBinary) {
    problems.push({ key: 'num_nodes', message: `the binary form holds at most ${LIMITS.maxNodesBinary} nodes, found ${n}` });
  } else if (2 * n + 1 + def.edges.length > LIMITS.dagArrayLength) {
    problems.push({
      key: 'dag',
      message: `the binary form's dag array holds ${LIMITS.dagArrayLength} values; ${n} nodes and ${def.edges.length} edges need ${2 * n + 1 + def.edges.length}`,
    });
  }
  for (const key of EXTENSION_KEYS) {
    if (def[key] !== DEFAULTS[key]) {
      problems.push({ key, message: `the binary form cannot hold ${key} ${def[key]} (only the default, ${DEFAULTS[key]})` });
    }
  }
  const strings: [string, string, number, number?][] = [
    ['name', def.name, LAYOUT.name.size],
    ['conn_type', def.conn_type, LAYOUT.conn_type.size],
    ['server_ip', def.server_ip, LAYOUT.server_ip.size],
    ['result_ip', def.result_ip, LAYOUT.result_ip.size],
  ];
  if (def.shared) {
    strings.push(['shared.path', def.shared.path, EXEC_LAYOUT.path.size], ['shared.name', def.shared.name, EXEC_LAYOUT.name.size]);
  }
  const ids = defaultNodeIds(def.nodes.map((node) => node.function));
  def.nodes.forEach((node, k) => {
    strings.push(['path', node.function.path, EXEC_LAYOUT.path.size, k], ['name', node.function.name, EXEC_LAYOUT.name.size, k]);
    if (node.timeout_ms !== undefined) {
      problems.push({ node: k, key: 'timeout_ms', message: `the binary form cannot hold a node timeout (${node.timeout_ms} ms)` });
    }
    if (node.id !== ids[k]) {
      problems.push({ node: k, key: 'id', message: `the binary form cannot hold node id '${node.id}' (its ids default to '${ids[k]}')` });
    }
  });
  for (const [key, value, size, node] of strings) {
    const bytes = Buffer.byteLength(value);
    if (bytes >= size) {
      problems.push({ key, ...(node !== undefined ? { node } : {}), message: `the binary form holds ${size - 1} bytes here, found ${bytes}` });
    }
  }
  return problems;
}

/** The 54,008 wire bytes of a valid definition; throws if it doesn't fit the wire form. */
export function encodeBinary(def: AppDefinition): Buffer {
  const problems = binaryProblems(def);
  if (problems.length) throw fieldError(problems, def.nodes.length);
  const buf = Buffer.alloc(BINARY_SIZE);
  const putString = (s: string, offset: number) => buf.write(s, offset, 'utf8');
  putString(def.name, LAYOUT.name.offset);
  buf.writeInt32LE(def.nodes.length, LAYOUT.num_nodes.offset);
  putString(def.conn_type, LAYOUT.conn_type.offset);
  buf.writeInt32LE(def.conn_port, LAYOUT.conn_port.offset);
  buf.writeInt32LE(def.msg_len, LAYOUT.msg_len.offset);
  putString(def.server_ip, LAYOUT.server_ip.offset);
  putString(def.result_ip, LAYOUT.result_ip.offset);
  buf.writeInt32LE(def.result_port, LAYOUT.result_port.offset);
  buf.writeInt32LE(def.pktcnt, LAYOUT.pktcnt.offset);
  encodeDagArray(def.edges, def.nodes.length).forEach((v, j) => buf.writeUInt16LE(v, LAYOUT.dag.offset + 2 * j));
  const putExec = (i: number, f: FunctionRef, inpOff: number, outOff: number) => {
    const base = LAYOUT.exec.offset + EXEC_LAYOUT.size * i;
    putString(f.path, base + EXEC_LAYOUT.path.offset);
    putString(f.name, base + EXEC_LAYOUT.name.offset);
    buf.writeBigUInt64LE(BigInt(inpOff), base + EXEC_LAYOUT.inp_off.offset);
    buf.writeBigUInt64LE(BigInt(outOff), base + EXEC_LAYOUT.out_off.offset);
  };
  if (def.shared) putExec(0, def.shared, 0, 0);
  def.nodes.forEach((node, k) => putExec(k + 1, node.function, node.inp_off, node.out_off));
  return buf;
}
